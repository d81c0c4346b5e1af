import type { Phi4ErrorCode } from "@phi4-edge/shared";
import { openAIErrorBody, type WireError } from "@phi4-edge/shared/wire-errors";
import { TrpcStreamTail } from "./trpc-stream-tail";

/** How the runner's body is framed, which decides how an error can be added to its end. */
export type BodyFraming = "jsonl" | "sse" | "json" | "opaque";

export function framingOf(path: string, contentType: string | null): BodyFraming {
  const type = contentType ?? "";
  if (path.startsWith("/trpc/") && type.includes("application/jsonl")) return "jsonl";
  if (type.includes("text/event-stream")) return "sse";
  if (path.startsWith("/v1/") && type.includes("application/json")) return "json";
  return "opaque";
}

export interface RelayOptions {
  framing: BodyFraming;
  /** The request path: tRPC error shapes name the procedure. */
  path: string;
  /** A body silent this long (the runner pings every 500 ms) ends with GATEWAY_TIMEOUT. */
  idleMs: number;
  /** Told how the body ended: "done", "caller-left", or the error code it was ended with. */
  onEnd?: (end: "done" | "caller-left" | Phi4ErrorCode, cause?: unknown) => void;
}

const NEWLINE = 10;
const encoder = new TextEncoder();

/**
 * Streams the runner's body to the caller chunk by chunk, and makes sure it ends in the
 * caller's protocol whatever happens to the runner: a body cut off (runner killed) ends with
 * BAD_GATEWAY, a body silent for `idleMs` (runner frozen) with GATEWAY_TIMEOUT, each as a
 * tRPC error chunk, an SSE `data: {"error": …}` event, or an OpenAI error object after the
 * keep-alive spaces of a non-stream reply. Line-framed bodies are passed on a whole line at a
 * time (whitespace pings at once), so the error never lands inside a half-sent line.
 */
export function relayBody(
  body: ReadableStream<Uint8Array>,
  options: RelayOptions,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const { framing } = options;
  const lined = framing === "jsonl" || framing === "sse";
  const calls = options.path.slice("/trpc/".length).split(",").length;
  const trpc = framing === "jsonl" ? new TrpcStreamTail(calls) : undefined;
  const decoder = new TextDecoder();
  let held: Uint8Array = new Uint8Array(0);
  let line = "";
  let onlySpaces = true;
  let ended = false;

  const end = (controller: ReadableStreamDefaultController<Uint8Array>, error?: WireError) => {
    ended = true;
    if (error) {
      const tail = errorTail(error);
      if (tail) controller.enqueue(encoder.encode(tail));
    }
    controller.close();
  };

  const errorTail = (error: WireError): string | undefined => {
    if (framing === "jsonl") return trpc?.errorLines(error, options.path.slice("/trpc/".length));
    if (framing === "sse") return `\ndata: ${JSON.stringify(openAIErrorBody(error))}\n\n`;
    if (framing === "json" && onlySpaces) return JSON.stringify(openAIErrorBody(error));
    return undefined;
  };

  /** Passes on what can go now and says whether anything went; keeps a partial line back. */
  const pass = (
    chunk: Uint8Array,
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): boolean => {
    if (!lined) {
      if (onlySpaces && !isBlank(chunk)) onlySpaces = false;
      controller.enqueue(chunk);
      return true;
    }
    const data = held.length ? concat(held, chunk) : chunk;
    const cut = data.lastIndexOf(NEWLINE) + 1;
    let out: Uint8Array = data.subarray(0, cut);
    held = data.subarray(cut);
    if (held.length && isBlank(held)) {
      // Keep-alive pings (spaces) go at once: they are what keeps proxies and callers listening.
      out = data;
      held = new Uint8Array(0);
    }
    if (!out.length) return false;
    if (trpc) {
      const text = line + decoder.decode(out, { stream: true });
      const lines = text.split("\n");
      line = lines.pop() ?? "";
      for (const complete of lines) trpc.line(complete);
    }
    controller.enqueue(out);
    return true;
  };

  return new ReadableStream<Uint8Array>(
    {
      // A pull must enqueue something (or end): the reader is already waiting, and the stream
      // calls pull again only after a new read. So it reads until a whole line can go.
      async pull(controller) {
        for (;;) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const idle = new Promise<"idle">((resolve) => {
            timer = setTimeout(() => resolve("idle"), options.idleMs);
          });
          try {
            const next = await Promise.race([reader.read(), idle]);
            if (next === "idle") {
              options.onEnd?.("GATEWAY_TIMEOUT");
              end(controller, {
                code: "GATEWAY_TIMEOUT",
                message: `the model runner sent nothing for ${options.idleMs} ms`,
              });
              reader.cancel().catch(() => {});
              return;
            }
            if (next.done) {
              options.onEnd?.("done");
              if (held.length) controller.enqueue(held);
              end(controller);
              return;
            }
            if (pass(next.value, controller)) return;
          } catch (cause) {
            options.onEnd?.("BAD_GATEWAY", cause);
            end(controller, {
              code: "BAD_GATEWAY",
              message: "the model runner went away mid-stream",
            });
            return;
          } finally {
            clearTimeout(timer);
          }
        }
      },
      async cancel(reason) {
        if (!ended) options.onEnd?.("caller-left", reason);
        await reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}

function isBlank(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d) return false;
  return true;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
