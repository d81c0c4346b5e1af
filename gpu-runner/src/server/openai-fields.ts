/**
 * Every field of OpenAI's chat-completions request and what this runner does with it. The
 * README's table lists the same rows (a test holds them together), and a test sends each one.
 * `honoured`: acted on as OpenAI documents (or as the note says); `refused`: any value but the
 * neutral one named in the note is a 400 whose `param` is the field's name.
 */
export const OPENAI_FIELDS = {
  messages: {
    support: "honoured",
    what: "system, developer (as system), user, assistant (with tool_calls) and tool turns; text content or text parts; other parts (images, audio, files), `name` and `content: null` on a user turn are refused; what a reply carried (`reasoning_content`, the SDK's `parsed`, `parsed_arguments`, `annotations`) may be sent back and is not read",
  },
  model: {
    support: "honoured",
    what: "optional; the runner serves one model and answers with its id (`GET /v1/models`) whatever name is sent",
  },
  stream: { support: "honoured", what: "SSE chunks, reasoning as `delta.reasoning_content`" },
  stream_options: {
    support: "honoured",
    what: "`include_usage` adds the usage chunk; `include_obfuscation: true` is refused",
  },
  temperature: { support: "honoured", what: "0–2; default 0.8 (the model card's)" },
  top_p: { support: "honoured", what: "(0, 1]; default 0.95" },
  seed: {
    support: "honoured",
    what: "0–2³²−1; same seed, same prompt, same settings: the same answer",
  },
  max_tokens: {
    support: "honoured",
    what: "tokens generated, reasoning included (as `max_completion_tokens`); the two must agree if both are sent",
  },
  max_completion_tokens: { support: "honoured", what: "as `max_tokens`" },
  stop: { support: "honoured", what: "a string or up to 4 strings of ≤ 64 characters" },
  response_format: {
    support: "honoured",
    what: "`text`, `json_object`, `json_schema` (its schema is enforced by a grammar on the answer after the reasoning; a keyword the grammar cannot enforce is refused, naming it; `name` and `description` are told to the model)",
  },
  tools: {
    support: "honoured",
    what: "function tools (JSON Schema parameters, enforced by a grammar; `strict` is always on); `custom` tools are refused",
  },
  tool_choice: {
    support: "honoured",
    what: "`auto` (default), `none`, `required`, or one named function",
  },
  parallel_tool_calls: {
    support: "honoured",
    what: "accepted either way: the runner makes at most one call per turn",
  },
  reasoning_effort: {
    support: "honoured",
    what: "a thought budget: `none` 0, `minimal` 256, `low` 1024, `medium` 4096 tokens; `high`, `xhigh`, `max` no limit",
  },
  user: {
    support: "honoured",
    what: "written to the runner's log line for the request (≤ 256 characters)",
  },
  safety_identifier: { support: "honoured", what: "as `user`" },
  prompt_cache_key: {
    support: "honoured",
    what: "accepted; prompt prefixes are reused automatically on each runner, whatever the key",
  },
  prompt_cache_retention: {
    support: "refused",
    what: "`in_memory` only (the cache lives in the runner's memory)",
  },
  n: { support: "refused", what: "1 only (one answer per request)" },
  logprobs: { support: "refused", what: "`false` only (no log probabilities)" },
  top_logprobs: { support: "refused", what: "no log probabilities" },
  logit_bias: { support: "refused", what: "`{}` only" },
  frequency_penalty: { support: "refused", what: "0 only" },
  presence_penalty: { support: "refused", what: "0 only" },
  store: { support: "refused", what: "`false` only (nothing is stored)" },
  metadata: { support: "refused", what: "`{}` only (nothing is stored)" },
  service_tier: { support: "refused", what: "`auto` or `default` only" },
  modalities: { support: "refused", what: '`["text"]` only' },
  audio: { support: "refused", what: "no audio output" },
  prediction: { support: "refused", what: "no predicted outputs" },
  verbosity: { support: "refused", what: "no verbosity control" },
  web_search_options: { support: "refused", what: "no web search" },
  moderation: { support: "refused", what: "no moderation" },
  prompt_cache_options: { support: "refused", what: "no cache options" },
  functions: { support: "refused", what: "deprecated by OpenAI: use `tools`" },
  function_call: { support: "refused", what: "deprecated by OpenAI: use `tool_choice`" },
  top_k: { support: "honoured", what: "extension: 1–1000; default 50" },
  reasoning_budget: {
    support: "honoured",
    what: "extension: thought tokens before `</think>` is forced (finish reason `stop`; the typed API says `budget`)",
  },
} as const satisfies Record<string, { support: "honoured" | "refused"; what: string }>;

export type OpenAIField = keyof typeof OPENAI_FIELDS;
