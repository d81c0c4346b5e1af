import type { ChatEvent, ChatInput, DoneEvent, FinishReason } from "@phi4-edge/shared";
import { SAMPLING_DEFAULTS } from "@phi4-edge/shared";
import {
  type LlamaContextSequence,
  type LlamaGrammar,
  LlamaGrammarEvaluationState,
  type Token,
} from "node-llama-cpp";
import type { AnswerPlan } from "./answer-plan";
import { AnswerRouter } from "./answer-router";
import type { EngineObserver } from "./engine-observer";
import type { Lockstep } from "./lockstep";
import { ReplyParser, type ReplyPiece, type ThoughtTags } from "./reply-parser";
import { TokenDecoder } from "./token-decoder";

/** How the loaded model marks its reasoning, worked out once at load (`replyFormat`). */
export interface ReplyFormat {
  thought?: ThoughtTags;
  /** Tokens of the open tag (none when the template opens the thought itself). */
  openTokens: Token[];
  /** Tokens of the close tag, evaluated when the reasoning budget forces the answer. */
  closeTokens: Token[];
  /** Text of tag tokens that detokenizing would hide (control tokens). */
  tagTokens: ReadonlyMap<Token, string>;
}

export interface ReplyRequest {
  input: ChatInput;
  /** The rendered prompt, already checked to fit. */
  tokens: Token[];
  /** The rendered prompt ends inside an open thought (its template prefilled the open tag). */
  startsInThought: boolean;
  /**
   * How the answer is shaped (free text, JSON, tool calls). Its grammar constrains the answer
   * only: sampling is free while the model reasons and follows the grammar from the first
   * token after the thought's close tag (a tool call under `auto`: from after `<tool_call>`).
   */
  plan: AnswerPlan;
  /** The caller's signal: aborting it throws its reason. */
  signal: AbortSignal;
  /** The runner's shutdown: ends the reply with `finishReason: "abort"`. */
  stop: AbortSignal;
  /** When the request reached the engine (performance.now()), for TTFT. */
  started: number;
  contextSize: number;
  /** The context's replies step together through it, one batch per step. */
  lockstep: Lockstep;
  emit: (event: ChatEvent) => void;
}

/**
 * Generates one reply on a context sequence with a loop of our own over
 * `LlamaContextSequence.evaluateWithMetadata`: keep the prompt prefix the sequence already
 * holds, evaluate the rest, then one step per token — sample, detokenize, split reasoning
 * from answer (`ReplyParser`), emit, check the stop conditions.
 *
 * Why not `LlamaChat.generateResponse`: (1) its `grammar` constrains from the first token, so a
 * reasoning model answers in JSON with no thought at all; a grammar that starts after the
 * thought needs the loop in our hands. (2) It renders the chat history again although the
 * engine has already rendered it to pick a sequence. (3) Speed: no loop on node-llama-cpp's
 * API reaches llama-server's rate, and this one adds little to node-llama-cpp's own (~0.1–0.2 ms
 * of main-thread CPU a token). Its `llama_decode` costs about what llama-server's whole loop
 * does, but each token goes to a libuv pool thread and back twice (the decode, then each
 * sequence's sampling) where llama-server stays on one thread: ~0.6–0.8 ms a token, ~0.7 ms
 * (~9%) of a 4-sequence step on the 24M bench model. `bench/decode-wall.ts` measures it every
 * run (2026-12, medians of 5 runs: the bare loop reaches 0.84× llama-server with one stream and
 * 0.96× with 4 on the 24M model, 0.93× and 0.97× on the 208M one).
 * Measured ways out, none worth a fork CI would build from source (12–15 min on 2 cores): a
 * native build costs the same; one addon call that decodes and samples gained ~10%, short of
 * 1×. Hence the prebuilt addon and 2 pool threads (`gpu-runner/Dockerfile`). Sending a step's
 * events after the next decode is dispatched lost on a quiet machine, so the loop stays simple.
 * Concurrent replies step together through `Lockstep`: one batch a step. A repeated prompt's
 * TTFT is mostly its tail after the cached prefix; rendering (`PromptRenderer`), tokenizing
 * (`memoTokenizer`) and `adaptStateToTokens` take ~0.2 ms of it.
 *
 * Structured output: the answer's text pieces go through `AnswerRouter`, which says which
 * grammar (the plan's JSON schema or tool call) constrains the next token; it is applied through
 * `grammarEvaluationState` only once the parser is in the answer, so the reasoning stays free.
 * The router turns a call into `tool_call` events (finish reason `tool_calls`) and ends the
 * reply when the grammar's value is complete. A reply that does not open its thought has its
 * first token sampled again under the grammar. A reply that must reason first can have the open
 * tag appended to `tokens` with `startsInThought: true`.
 */
export async function generateReply(
  sequence: LlamaContextSequence,
  format: ReplyFormat,
  request: ReplyRequest,
  observer: EngineObserver,
): Promise<DoneEvent> {
  const { input, tokens, signal, stop, emit } = request;
  const model = sequence.model;
  const budget = input.reasoning?.budget;
  const maxTokens = Math.min(
    input.maxTokens ?? Number.POSITIVE_INFINITY,
    request.contextSize - tokens.length,
  );
  const parser = new ReplyParser({
    thought: format.thought,
    startsInThought: request.startsInThought,
    stop: input.stop,
  });
  const decoder = new TokenDecoder(model, format.tagTokens);
  const router = new AnswerRouter(request.plan, emit);
  // One evaluation state per grammar: it tracks what the grammar has accepted so far.
  let grammar: { of: LlamaGrammar; state: LlamaGrammarEvaluationState } | undefined;
  const grammarState = () => {
    const of = parser.phase === "answer" ? router.grammar : undefined;
    if (!of) return undefined;
    if (grammar?.of !== of)
      grammar = { of, state: new LlamaGrammarEvaluationState({ model, grammar: of }) };
    return grammar.state;
  };
  const send = (pieces: ReplyPiece[]) => {
    for (const piece of pieces) {
      if (piece.type === "text") router.push(piece.text);
      else emit({ type: piece.type, text: piece.text });
    }
  };

  const { cached, rest } = await evaluatePrompt(sequence, tokens, signal);
  // The last prompt token is always evaluated, with the first sampling step.
  const evaluated = tokens.length - cached;
  observer.promptTokens(evaluated, cached);

  let completionTokens = 0;
  let reasoningTokens = 0;
  let budgetSpent = false;
  let finishReason: FinishReason = "stop";
  let firstAt: number | undefined;
  let lastAt = 0;
  const constrained = request.plan.kind !== "text";
  const evaluate = (next: Token[]) =>
    sequence.evaluateWithMetadata(
      next,
      {},
      {
        temperature: input.temperature ?? SAMPLING_DEFAULTS.temperature,
        topP: input.topP ?? SAMPLING_DEFAULTS.topP,
        topK: input.topK ?? SAMPLING_DEFAULTS.topK,
        seed: input.seed,
        yieldEogToken: true,
        grammarEvaluationState: constrained ? grammarState : undefined,
      },
    );
  let steps = evaluate(rest);
  const member = request.lockstep.join();
  try {
    let feed: Token[] | undefined;
    for (;;) {
      await member.arrive();
      // `feed` replaces the sampled token as what is evaluated next (the budget's close tag).
      const step = await steps.next(feed);
      feed = undefined;
      if (signal.aborted) throw signal.reason;
      if (step.done) break;
      const token = step.value.token;
      if (constrained && parser.phase === "start" && token !== format.openTokens[0]) {
        // The reply skips its thought, but its first token was sampled free (the grammar waits
        // for the answer): sample it again under the grammar. Its logits come from the last
        // prompt token, so that one is taken back and evaluated once more.
        parser.skipThought();
        await steps.return(undefined);
        const last = tokens.length - 1;
        await sequence.eraseContextTokenRanges([{ start: last, end: last + 1 }]);
        steps = evaluate(tokens.slice(last));
        continue;
      }
      const now = performance.now();
      const gap = firstAt === undefined ? undefined : now - lastAt;
      firstAt ??= now;
      lastAt = now;
      completionTokens++;
      const end = model.isEogToken(token);
      if (!end) {
        const before = parser.phase;
        send(parser.push(decoder.push(token)));
        if (before === "reasoning" && parser.phase === "reasoning") reasoningTokens++;
      }
      // Metrics once the token's event is out: the caller's wait for it ends first.
      if (gap === undefined) observer.firstToken(now - request.started);
      else observer.interToken(gap);
      observer.tokensGenerated(1);
      if (end) break;
      // A grammar's value is complete when it says so, whatever the model would add.
      if (parser.phase === "stopped" || router.complete) break;
      if (stop.aborted) {
        finishReason = "abort";
        break;
      }
      if (completionTokens >= maxTokens) {
        finishReason = "length";
        break;
      }
      if (budget !== undefined && parser.phase === "reasoning" && reasoningTokens >= budget) {
        budgetSpent = true;
        send(parser.closeThought());
        // The close tag is forced, not generated: it counts as neither completion nor budget.
        feed = [token, ...format.closeTokens];
      }
    }
  } finally {
    member.leave();
    await steps.return(undefined);
  }
  if (parser.phase !== "stopped") send(parser.push(decoder.flush()));
  send(parser.finish());
  router.finish();
  if (finishReason === "stop" && router.calledTool) finishReason = "tool_calls";
  else if (finishReason === "stop" && budgetSpent) finishReason = "budget";

  const end = performance.now();
  const decodeMs = firstAt === undefined ? 0 : end - firstAt;
  const done: DoneEvent = {
    type: "done",
    finishReason,
    usage: {
      promptTokens: tokens.length,
      reasoningTokens,
      completionTokens,
      cachedTokens: cached,
    },
    timings: {
      ttftMs: (firstAt ?? end) - request.started,
      tokensPerSecond: decodeMs > 0 ? ((completionTokens - 1) / decodeMs) * 1000 : 0,
    },
  };
  emit(done);
  return done;
}

/**
 * Keeps the longest prefix of `tokens` the sequence already holds (the system prompt, earlier
 * turns) and evaluates the rest but its last chunk in batch-sized chunks, checking the
 * caller's signal between them, so a caller who leaves during a long prompt frees the
 * sequence within one batch. Returns how many tokens were reused and those left to evaluate
 * with the first sampling step (at least one: the last prompt token yields the first new token).
 */
async function evaluatePrompt(
  sequence: LlamaContextSequence,
  tokens: Token[],
  signal: AbortSignal,
): Promise<{ cached: number; rest: Token[] }> {
  if (signal.aborted) throw signal.reason;
  await sequence.adaptStateToTokens(tokens.slice(0, -1), false);
  const cached = sequence.nextTokenIndex;
  const rest = tokens.slice(cached);
  const batch = Math.max(1, sequence.context.batchSize);
  while (rest.length > batch) {
    await sequence.evaluateWithoutGeneratingNewTokens(rest.splice(0, batch));
    if (signal.aborted) throw signal.reason;
  }
  return { cached, rest };
}
