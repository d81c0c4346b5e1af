import { parseArgs } from "node:util";
import type { ChatInput } from "@phi4-edge/shared";
import { createPhi4Client } from "@phi4-edge/shared/client";
import { chatRepl } from "./chat-repl";
import { describeError } from "./describe-error";
import { Renderer } from "./render";

const HELP = `phi4 — talk to a phi4-edge stack (typed tRPC client)

Usage:
  phi4 chat "your question"   stream one answer and exit
  phi4 chat                   interactive chat (Ctrl-C stops an answer, /exit leaves)
  phi4 model                  show the loaded model

Options:
  --url URL            edge (or runner) base URL       [env PHI4_URL, default http://127.0.0.1:8787]
  --api-key KEY        API key                          [env PHI4_API_KEY]
  --json               print every event as one JSON line
  --no-reasoning       hide the reasoning (it is still generated)
  --max-tokens N       maximum tokens to generate
  --temperature T      sampling temperature (0 = greedy)
  --budget N           reasoning budget: thought tokens before the answer is forced
  --seed N             sampling seed
  -h, --help           this help

Exit codes: 0 done, 1 the call failed, 2 bad usage, 130 stopped with Ctrl-C.
`;

class UsageError extends Error {}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    allowNegative: true,
    options: {
      url: { type: "string" },
      "api-key": { type: "string" },
      json: { type: "boolean", default: false },
      reasoning: { type: "boolean", default: true },
      "max-tokens": { type: "string" },
      temperature: { type: "string" },
      budget: { type: "string" },
      seed: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const number = (name: string, raw: string | undefined) => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${raw}"`);
    return n;
  };
  const sampling: Omit<ChatInput, "messages"> = {};
  const maxTokens = number("max-tokens", values["max-tokens"]);
  const temperature = number("temperature", values.temperature);
  const budget = number("budget", values.budget);
  const seed = number("seed", values.seed);
  if (maxTokens !== undefined) sampling.maxTokens = maxTokens;
  if (temperature !== undefined) sampling.temperature = temperature;
  if (seed !== undefined) sampling.seed = seed;
  if (budget !== undefined) sampling.reasoning = { budget };
  return { values, positionals, sampling };
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(`phi4: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals, sampling } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  const url = values.url ?? process.env.PHI4_URL ?? "http://127.0.0.1:8787";
  const apiKey = values["api-key"] ?? process.env.PHI4_API_KEY;
  const controller = new AbortController();
  const client = createPhi4Client({ url, apiKey, signal: controller.signal });

  try {
    if (command === "model") {
      const info = await client.model();
      process.stdout.write(`${values.json ? JSON.stringify(info) : formatModel(info)}\n`);
      return 0;
    }
    if (command !== "chat") {
      process.stderr.write(`phi4: unknown command "${command}"\n\n${HELP}`);
      return 2;
    }
    if (rest.length === 0) {
      await chatRepl({ client, url, reasoning: values.reasoning, sampling });
      return 0;
    }
    process.once("SIGINT", () => controller.abort());
    const renderer = new Renderer(process.stdout, {
      reasoning: values.reasoning,
      tty: Boolean(process.stdout.isTTY),
      columns: process.stdout.columns,
    });
    const messages: ChatInput["messages"] = [{ role: "user", content: rest.join(" ") }];
    for await (const event of client.chat({ ...sampling, messages })) {
      if (values.json) {
        if (values.reasoning || event.type !== "reasoning") {
          process.stdout.write(`${JSON.stringify(event)}\n`);
        }
      } else renderer.write(event);
    }
    return 0;
  } catch (error) {
    if (controller.signal.aborted) {
      process.stderr.write("\n(stopped)\n");
      return 130;
    }
    process.stderr.write(`phi4: ${describeError(error, url)}\n`);
    return 1;
  }
}

function formatModel(info: Awaited<ReturnType<ReturnType<typeof createPhi4Client>["model"]>>) {
  return [
    `${info.repo}/${info.file} @ ${info.revision.slice(0, 12)}`,
    `${info.quantization} · context ${info.contextSize} · ${info.parallel} parallel · ${info.gpu || "CPU"}`,
  ].join("\n");
}

process.exitCode = await main(process.argv.slice(2));
