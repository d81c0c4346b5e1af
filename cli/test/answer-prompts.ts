import type { ChildProcessWithoutNullStreams } from "node:child_process";

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Collects a terminal chat process's output and answers each of its `› ` prompts with the next
 * of `lines` (then `/exit`), only once the previous answer has been printed in full.
 */
export function answerPrompts(child: ChildProcessWithoutNullStreams, lines: string[]) {
  return new Promise<Finished>((resolve) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      if (stdout.endsWith("› ")) child.stdin.write(`${lines.shift() ?? "/exit"}\n`);
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
