import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

export interface LlamaServerOptions {
  binary: string;
  model: string;
  threads: number;
  parallel: number;
  /** Tokens per slot (llama-server's `-c` is the total, shared by the slots). */
  contextPerSlot: number;
}

export interface StartedLlamaServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * llama.cpp's own server on the same GGUF, as the baseline of the decode benchmark: the GGUF's
 * chat template (`--jinja`), CPU only, `threads` for generation and prompt alike, `parallel`
 * slots of `contextPerSlot` tokens. Resolves when `/health` answers 200.
 */
export async function startLlamaServer(options: LlamaServerOptions): Promise<StartedLlamaServer> {
  const port = await freePort();
  const args = [
    ...["-m", options.model, "--host", "127.0.0.1", "--port", String(port)],
    ...["-t", String(options.threads), "-tb", String(options.threads), "-ngl", "0"],
    ...["-np", String(options.parallel), "-c", String(options.parallel * options.contextPerSlot)],
    ...["--jinja", "--no-webui"],
  ];
  const child = spawn(options.binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`llama-server exited before it was ready:\n${output.join("").slice(-2000)}`);
    }
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      stopChild(child);
      throw new Error(`llama-server not ready within 60 s:\n${output.join("").slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async stop() {
      stopChild(child);
      await exited;
    },
  };
}

function stopChild(child: ChildProcess) {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}
