import { createTRPCClient, httpBatchStreamLink, TRPCClientError } from "@trpc/client";
import type { z } from "zod";
import { type ChatObjectOptions, chatObject, type ObjectChat } from "./chat-object.js";
import type { Phi4ErrorCode, Phi4ErrorData } from "./errors.js";
import type { ChatEvent, StatusEvent } from "./events.js";
import type { AppRouter } from "./router.js";
import type { ChatInput, ModelInfo } from "./schemas.js";

export { type ChatObjectOptions, type ObjectChat, StructuredOutputError } from "./chat-object.js";
// The published package (`client/`) has this file as its one entry: the contract's types an app
// needs are exported from here, as types only, so importing the client loads no server code.
export type { Phi4ErrorCode, Phi4ErrorData } from "./errors.js";
export type {
  ChatEvent,
  DoneEvent,
  FinishReason,
  Phase,
  ReasoningEvent,
  StatusEvent,
  TextEvent,
  Timings,
  ToolCallEvent,
  Usage,
} from "./events.js";
export type { AppRouter } from "./router.js";
export type {
  ChatInput,
  ChatMessage,
  JsonSchema,
  ModelInfo,
  Reasoning,
  ResponseFormat,
  Role,
  Tool,
  ToolCall,
  ToolChoice,
} from "./schemas.js";

export interface Phi4ClientOptions {
  /** Base URL of the edge (or a runner), e.g. `https://phi4.example.com`; `/trpc` is appended. */
  url: string;
  apiKey?: string;
  fetch?: typeof fetch;
  /** Aborts every call made by this client. */
  signal?: AbortSignal;
  /**
   * How long `chat` waits through `SERVICE_UNAVAILABLE` (cold start, a draining runner) before
   * giving up; between tries it waits the server's `retryAfterMs`, or backs off.
   */
  waitReadyMs?: number;
  headers?: Record<string, string>;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface Phi4Client {
  /** Streams status, reasoning, text and done events; waits through a cold start. */
  chat(input: ChatInput, options?: CallOptions): AsyncGenerator<ChatEvent, void>;
  /**
   * `chat` whose answer is held to a zod schema (a grammar enforces its JSON Schema after the
   * reasoning): `await` it for the value, typed by the schema, or iterate it for the events
   * first. Rejects with `StructuredOutputError` if the answer is cut short.
   */
  chatObject<S extends z.ZodType>(
    input: Omit<ChatInput, "responseFormat">,
    schema: S,
    options?: ChatObjectOptions,
  ): ObjectChat<z.output<S>>;
  model(options?: CallOptions): Promise<ModelInfo>;
  /** The raw typed tRPC client, for anything the helpers above don't cover. */
  trpc: ReturnType<typeof createTRPCClient<AppRouter>>;
}

/** The error every failed call throws; `code` is one of the contract's codes. */
export type Phi4Error = TRPCClientError<AppRouter>;

export function isPhi4Error(error: unknown): error is Phi4Error {
  return error instanceof TRPCClientError;
}

/** The contract's error code of a failed call, or undefined for transport errors. */
export function errorCode(error: unknown): Phi4ErrorCode | undefined {
  return isPhi4Error(error) ? (error.data?.code as Phi4ErrorCode | undefined) : undefined;
}

export function errorData(error: unknown): Phi4ErrorData {
  return isPhi4Error(error) ? ((error.data ?? {}) as Phi4ErrorData) : {};
}

/** A fully typed client for phi4-edge. */
export function createPhi4Client(options: Phi4ClientOptions): Phi4Client {
  const base = options.url.replace(/\/+$/, "");
  const trpc = createTRPCClient<AppRouter>({
    links: [
      httpBatchStreamLink({
        url: base.endsWith("/trpc") ? base : `${base}/trpc`,
        maxItems: 1,
        fetch: options.fetch,
        headers: () => ({
          ...options.headers,
          ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
        }),
      }),
    ],
  });
  const waitReadyMs = options.waitReadyMs ?? 15 * 60_000;
  const signalOf = (call?: CallOptions) => anySignal(options.signal, call?.signal);

  const client: Phi4Client = {
    trpc,
    model: (call) => trpc.model.query(undefined, { signal: signalOf(call) }),
    chatObject: (input, schema, call) => chatObject(client.chat, input, schema, call),
    async *chat(input, call) {
      const signal = signalOf(call);
      const deadline = Date.now() + waitReadyMs;
      for (let attempt = 0; ; attempt++) {
        let started = false;
        try {
          const stream = await trpc.chat.mutate(input, { signal });
          for await (const event of stream) {
            started = true;
            yield event;
          }
          return;
        } catch (error) {
          const retry = !started && errorCode(error) === "SERVICE_UNAVAILABLE";
          if (!retry || Date.now() >= deadline) throw error;
          const { phase, progress, retryAfterMs } = errorData(error);
          const status: StatusEvent = { type: "status", phase: phase ?? "waking" };
          if (progress !== undefined) status.progress = progress;
          yield status;
          // The server's hint when it gives one (it knows its drain or load), else a backoff.
          const wait = retryAfterMs ?? Math.min(500 * 2 ** attempt, 5_000);
          await sleep(Math.min(wait, Math.max(0, deadline - Date.now())), signal);
        }
      }
    },
  };
  return client;
}

function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return present.length > 1 ? AbortSignal.any(present) : present[0];
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
