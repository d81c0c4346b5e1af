import { randomUUID } from "node:crypto";
import type { ChatEvent, DoneEvent, Engine, FinishReason, Usage } from "@phi4-edge/shared";
import { PING_MS } from "@phi4-edge/shared";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import {
  invalidRequest,
  type OpenAIErrorReply,
  openAIError,
  openAIErrorResponse as reply,
} from "./openai-error";
import { parseOpenAIRequest } from "./openai-request";
import { quietWaiter } from "./quiet-waiter";
import type { RunnerVariables } from "./request-context";

/**
 * OpenAI-compatible `POST /v1/chat/completions` (stream and non-stream, reasoning as
 * `reasoning_content`) and `GET /v1/models`, over the same Engine as tRPC.
 */
export function openAIRoutes(engine: Engine, modelId: string) {
  const app = new Hono<{ Variables: RunnerVariables }>();

  app.get("/models", (c) =>
    c.json({
      object: "list",
      data: [{ id: modelId, object: "model", created: 0, owned_by: "phi4-edge" }],
    }),
  );

  app.post("/chat/completions", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return reply(invalidRequest("the body must be JSON"));
    }
    const parsed = parseOpenAIRequest(body);
    if (!parsed.ok) return reply(invalidRequest(parsed.problem.message, parsed.problem.param));
    const { request, input } = parsed;
    const { user, safety_identifier: safetyIdentifier } = request;
    // The caller's own end-user tags, for abuse tracing (they are identifiers, not content).
    if (user || safetyIdentifier) c.get("log").info({ user, safetyIdentifier }, "openai end user");
    const signal = c.req.raw.signal;
    const requestId = c.get("requestId");
    let onStarted: (() => void) | undefined;
    const started = new Promise<undefined>((resolve) => {
      onStarted = () => resolve(undefined);
    });
    const events = engine.chat(input, { signal, requestId, onStarted });
    const iterator = events[Symbol.asyncIterator]();
    const meta = {
      id: `chatcmpl-${randomUUID()}`,
      created: Math.floor(Date.now() / 1000),
      model: modelId,
    };

    if (!request.stream) {
      const completion = collectCompletion(iterator, meta).catch(
        (error): Completion => ({ ok: false, error: openAIError(error, signal, requestId) }),
      );
      // Quick answers and early refusals (full queue, prompt too long) keep their real status.
      const quiet = quietWaiter(PING_MS);
      const early = await quiet.next(completion);
      if (early) {
        quiet.stop();
        return early.ok ? c.json(early.body) : reply(early.error);
      }
      // A long answer: headers now, then a space every PING_MS until the JSON is ready, so the
      // edge (which wants headers within seconds) and proxies (which close silent responses)
      // keep waiting. Leading whitespace is valid JSON. A failure after this point can only
      // be told in the body: an OpenAI error object under status 200.
      const encoder = new TextEncoder();
      let finished = false;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const result = await quiet.next(completion);
          if (!result) {
            controller.enqueue(encoder.encode(" "));
            return;
          }
          finished = true;
          quiet.stop();
          controller.enqueue(
            encoder.encode(JSON.stringify(result.ok ? result.body : result.error.body)),
          );
          controller.close();
        },
        async cancel() {
          quiet.stop();
          if (!finished) await iterator.return?.();
        },
      });
      return new Response(body, {
        headers: { "content-type": "application/json", "cache-control": "no-cache" },
      });
    }

    // Errors before anything happened (full queue, prompt too long) get a real HTTP status;
    // if the engine is quiet for a ping interval, the stream starts and pings keep it alive.
    // It also starts once the engine has started on the prompt, as llama-server sends its
    // headers when a slot takes the prompt: the headers and the role chunk then reach the
    // client while the prompt is evaluated, and the first token is one write away from the
    // caller. Measured 2026-12 (24M bench model, a repeated prompt, medians of 180): first token
    // → its delta written 0.76 → 0.17 ms, delta written → the openai SDK's delta 1.38 → 0.66 ms.
    let pending = iterator.next();
    const quiet = quietWaiter(PING_MS);
    let first: IteratorResult<ChatEvent> | undefined;
    try {
      first = await quiet.next(Promise.race([pending, started]));
    } catch (error) {
      quiet.stop();
      return reply(openAIError(error, signal, requestId));
    }
    if (first) pending = Promise.resolve(first);
    const includeUsage = request.stream_options?.include_usage === true;
    const chunk = (delta: object, finish: string | null = null) => ({
      ...meta,
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      ...(includeUsage ? { usage: null } : {}),
    });
    const calls = new Set<number>();

    c.header("x-accel-buffering", "no");
    return streamSSE(c, async (stream) => {
      try {
        const send = (data: unknown) => stream.writeSSE({ data: JSON.stringify(data) });
        // A caller who goes away ends the generation (and frees its sequence) at once.
        stream.onAbort(() => void iterator.return?.());
        await send(chunk({ role: "assistant", content: "" }));
        for (;;) {
          let next: IteratorResult<ChatEvent> | undefined;
          try {
            next = await quiet.next(pending);
          } catch (error) {
            await send(openAIError(error, signal, requestId).body);
            return;
          }
          if (stream.aborted) return;
          // Status events have no OpenAI equivalent; a quiet engine gets a keep-alive comment.
          if (!next) {
            await stream.write(": ping\n\n");
            continue;
          }
          if (next.done) {
            await stream.writeSSE({ data: "[DONE]" });
            return;
          }
          pending = iterator.next();
          const event = next.value;
          if (event.type === "reasoning") await send(chunk({ reasoning_content: event.text }));
          else if (event.type === "text") await send(chunk({ content: event.text }));
          else if (event.type === "tool_call") {
            // The first piece of a call names it; the rest carry arguments only, as OpenAI streams.
            const opening = !calls.has(event.index);
            calls.add(event.index);
            const call = opening
              ? {
                  index: event.index,
                  id: event.id,
                  type: "function",
                  function: { name: event.name, arguments: event.arguments },
                }
              : { index: event.index, function: { arguments: event.arguments } };
            await send(chunk({ tool_calls: [call] }));
          } else if (event.type === "done") {
            await send(chunk({}, finishReason(event.finishReason)));
            if (includeUsage) {
              await send({
                ...meta,
                object: "chat.completion.chunk",
                choices: [],
                usage: openAIUsage(event.usage),
              });
            }
          }
        }
      } finally {
        quiet.stop();
      }
    });
  });

  return app;
}

type Completion = { ok: true; body: object } | { ok: false; error: OpenAIErrorReply };

/** Reads the whole reply into one `chat.completion` object. */
async function collectCompletion(
  iterator: AsyncIterator<ChatEvent>,
  meta: { id: string; created: number; model: string },
): Promise<Completion> {
  let reasoning = "";
  let text = "";
  const calls: { id: string; type: "function"; function: { name: string; arguments: string } }[] =
    [];
  let done: DoneEvent | undefined;
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
    const event = r.value;
    if (event.type === "reasoning") reasoning += event.text;
    else if (event.type === "text") text += event.text;
    else if (event.type === "tool_call") {
      const call = calls[event.index];
      if (call) call.function.arguments += event.arguments;
      else {
        calls[event.index] = {
          id: event.id,
          type: "function",
          function: { name: event.name, arguments: event.arguments },
        };
      }
    } else if (event.type === "done") done = event;
  }
  return {
    ok: true,
    body: {
      ...meta,
      object: "chat.completion",
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            // OpenAI's shape: no text beside tool calls is `null`.
            content: calls.length && !text ? null : text,
            ...(calls.length ? { tool_calls: calls } : {}),
            ...(reasoning ? { reasoning_content: reasoning } : {}),
          },
          finish_reason: finishReason(done?.finishReason),
          logprobs: null,
        },
      ],
      usage: done ? openAIUsage(done.usage) : undefined,
    },
  };
}

/** OpenAI knows `stop`, `length` and `tool_calls`; a forced end of reasoning still ends normally. */
function finishReason(reason: FinishReason | undefined): string {
  if (reason === "length" || reason === "abort" || reason === "tool_calls") return reason;
  return "stop";
}

function openAIUsage(usage: Usage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}
