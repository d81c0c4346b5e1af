import { randomUUID } from "node:crypto";
import type { ChatEvent, DoneEvent, Engine, FinishReason, Usage } from "@phi4-edge/shared";
import { PING_MS } from "@phi4-edge/shared";
import { Hono } from "hono";
import {
  invalidRequest,
  type OpenAIErrorReply,
  openAIError,
  openAIErrorResponse as reply,
} from "./openai-error";
import { parseOpenAIRequest } from "./openai-request";
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
    if (!parsed.ok) return reply(invalidRequest(parsed.message));
    const { request, input } = parsed;
    const signal = c.req.raw.signal;
    const requestId = c.get("requestId");
    const events = engine.chat(input, { signal, requestId });
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
      const early = await Promise.race([completion, delay(PING_MS).then(() => undefined)]);
      if (early) return early.ok ? c.json(early.body) : reply(early.error);
      // A long answer: headers now, then a space every PING_MS until the JSON is ready, so the
      // edge (which wants headers within seconds) and proxies (which close silent responses)
      // keep waiting. Leading whitespace is valid JSON. A failure after this point can only
      // be told in the body: an OpenAI error object under status 200.
      const encoder = new TextEncoder();
      let finished = false;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const result = await Promise.race([completion, delay(PING_MS).then(() => undefined)]);
          if (!result) {
            controller.enqueue(encoder.encode(" "));
            return;
          }
          finished = true;
          controller.enqueue(
            encoder.encode(JSON.stringify(result.ok ? result.body : result.error.body)),
          );
          controller.close();
        },
        async cancel() {
          if (!finished) await iterator.return?.();
        },
      });
      return new Response(body, {
        headers: { "content-type": "application/json", "cache-control": "no-cache" },
      });
    }

    // Errors before anything happened (full queue, prompt too long) get a real HTTP status;
    // if the engine is quiet for a ping interval, the stream starts and pings keep it alive.
    let pending = iterator.next();
    let first: IteratorResult<ChatEvent> | undefined;
    try {
      first = await Promise.race([pending, delay(PING_MS).then(() => undefined)]);
    } catch (error) {
      return reply(openAIError(error, signal, requestId));
    }
    if (first) pending = Promise.resolve(first);
    const includeUsage = request.stream_options?.include_usage === true;
    const encoder = new TextEncoder();
    const chunk = (delta: object, finish: string | null = null) => ({
      ...meta,
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      ...(includeUsage ? { usage: null } : {}),
    });
    const send = (controller: ReadableStreamDefaultController, data: unknown) =>
      controller.enqueue(encoder.encode(`data: ${JSON.stringify(data)}\n\n`));
    let started = false;
    let finished = false;

    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!started) {
          started = true;
          send(controller, chunk({ role: "assistant", content: "" }));
        }
        // A pull must enqueue something: the reader is already waiting, and the stream calls
        // pull again only after a new read. Status events have no OpenAI equivalent, so skip them.
        for (;;) {
          let next: IteratorResult<ChatEvent> | undefined;
          try {
            next = await Promise.race([pending, delay(PING_MS).then(() => undefined)]);
          } catch (error) {
            send(controller, openAIError(error, signal, requestId).body);
            finished = true;
            controller.close();
            return;
          }
          if (!next) {
            controller.enqueue(encoder.encode(": ping\n\n"));
            return;
          }
          pending = next.done ? pending : iterator.next();
          if (next.done) {
            finished = true;
            controller.enqueue(encoder.encode("data: [DONE]\n\n"));
            controller.close();
            return;
          }
          const event = next.value;
          if (event.type === "status") continue;
          if (event.type === "reasoning")
            send(controller, chunk({ reasoning_content: event.text }));
          else if (event.type === "text") send(controller, chunk({ content: event.text }));
          else if (event.type === "done") {
            send(controller, chunk({}, finishReason(event.finishReason)));
            if (includeUsage)
              send(controller, {
                ...meta,
                object: "chat.completion.chunk",
                choices: [],
                usage: openAIUsage(event.usage),
              });
          }
          return;
        }
      },
      async cancel() {
        if (!finished) await iterator.return?.();
      },
    });
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
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
  let done: DoneEvent | undefined;
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
    const event = r.value;
    if (event.type === "reasoning") reasoning += event.text;
    else if (event.type === "text") text += event.text;
    else if (event.type === "done") done = event;
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
            content: text,
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

/** OpenAI knows `stop` and `length`; a forced end of reasoning still ends normally. */
function finishReason(reason: FinishReason | undefined): string {
  if (reason === "length") return "length";
  if (reason === "abort") return "abort";
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
