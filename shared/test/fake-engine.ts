import type { AddressInfo } from "node:net";
import { createHTTPServer } from "@trpc/server/adapters/standalone";
import { afterAll, beforeAll, beforeEach } from "vitest";
import {
  type ChatEvent,
  type ChatInput,
  type ChatOptions,
  createAppRouter,
  type Engine,
  type ModelInfo,
} from "../src/index.js";

type Step = ChatEvent | Error | ((signal: AbortSignal) => Promise<void>);

/**
 * A scripted Engine: each `chat` call plays the next script (events, errors to throw, or
 * functions to await), and records what it was called with and whether it was aborted.
 */
export class FakeEngine implements Engine {
  readonly calls: { input: ChatInput; signal: AbortSignal }[] = [];
  modelError: Error | undefined;
  constructor(private scripts: Step[][] = []) {}

  reset() {
    this.calls.length = 0;
    this.scripts.length = 0;
    this.modelError = undefined;
  }

  play(...scripts: Step[][]) {
    this.scripts.push(...scripts);
  }

  async *chat(input: ChatInput, { signal }: ChatOptions): AsyncIterable<ChatEvent> {
    this.calls.push({ input, signal });
    const script = this.scripts.shift() ?? [];
    for (const step of script) {
      if (signal.aborted) throw signal.reason;
      if (step instanceof Error) throw step;
      if (typeof step === "function") await step(signal);
      else yield step;
    }
  }

  model(): ModelInfo {
    if (this.modelError) throw this.modelError;
    return {
      repo: "fake/fake",
      file: "fake.gguf",
      revision: "0".repeat(40),
      quantization: "F16",
      contextSize: 2048,
      parallel: 1,
      gpu: false,
    };
  }
}

/** A promise resolved from outside: lets a test and the engine take turns. */
export function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/** Resolves when `signal` aborts, rejects after `ms` so a broken test fails instead of hanging. */
export function aborted(signal: AbortSignal, ms = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(() => reject(new Error(`signal not aborted within ${ms} ms`)), ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Serves the AppRouter over `engine` on real HTTP (127.0.0.1, a free port) at `/trpc`. */
export async function serveEngine(
  engine: Engine,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createHTTPServer({
    router: createAppRouter(engine),
    basePath: "/trpc/",
    createContext: () => ({}),
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A test file's FakeEngine on real HTTP: served before all its tests (`url` is set then),
 * reset before each, closed after all.
 */
export function useFakeEngine(): { engine: FakeEngine; url: string } {
  const served = { engine: new FakeEngine(), url: "" };
  let server: Awaited<ReturnType<typeof serveEngine>> | undefined;
  beforeAll(async () => {
    server = await serveEngine(served.engine);
    served.url = server.url;
  });
  afterAll(() => server?.close());
  beforeEach(() => served.engine.reset());
  return served;
}
