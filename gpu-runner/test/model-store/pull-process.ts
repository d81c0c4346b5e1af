import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const runnerDir = fileURLToPath(new URL("../..", import.meta.url));

export interface PullProcess {
  child: ChildProcess;
  stdout: string[];
  /** stderr lines (JSON progress and logs, or the one-line error). */
  stderr: string[];
  exited: Promise<number | null>;
  /** Resolves once a stderr line satisfies `test`. */
  waitFor(test: (line: string) => boolean): Promise<string>;
}

/**
 * Runs the pull CLI as its own process (`node --import tsx`, no wrapper process, so that a
 * kill -9 hits the downloader itself), with exactly the given environment plus PATH.
 */
export function startPull(vars: Record<string, string>): PullProcess {
  return startScript("src/model-store/pull.ts", vars);
}

/** Runs a script of the runner's package (path from its folder) the same way, with `args`. */
export function startScript(
  script: string,
  vars: Record<string, string>,
  args: string[] = [],
): PullProcess {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: runnerDir,
    env: { PATH: process.env.PATH ?? "", ...vars },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  const lines = (sink: string[], onLine?: (line: string) => void) => {
    let rest = "";
    return (chunk: Buffer) => {
      const parts = (rest + chunk.toString("utf8")).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        sink.push(line);
        onLine?.(line);
      }
    };
  };
  child.stdout?.on("data", lines(stdout));
  child.stderr?.on(
    "data",
    lines(stderr, (line) => {
      for (const w of [...waiters]) {
        if (w.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }),
  );
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => resolve(code)),
  );
  return {
    child,
    stdout,
    stderr,
    exited,
    waitFor(test) {
      const seen = stderr.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ test, resolve });
        void exited.then((code) =>
          reject(new Error(`pull exited (${code}) first; stderr:\n${stderr.join("\n")}`)),
        );
      });
    },
  };
}

/** Parsed JSON progress lines of a pull's stderr. */
export function progressLines(
  lines: string[],
): { phase: string; bytes: number; downloader: string }[] {
  return lines.flatMap((line) => {
    try {
      const value = JSON.parse(line) as { phase?: string };
      return value.phase ? [value as { phase: string; bytes: number; downloader: string }] : [];
    } catch {
      return [];
    }
  });
}
