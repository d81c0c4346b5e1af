/**
 * `npm run demo`: the whole stack, fully offline. The bundled Hub emulator serves the tiny
 * Phi-4-architecture model, the runner downloads it into a temporary shared volume, verifies and
 * loads it, and one question goes through the edge (wrangler dev) with a fresh API key — by the
 * typed client and by the OpenAI SDK. Exits 0 only if both answers are the model's exact output.
 * With `-- --keep` the stack then stays up (for `npx phi4`, the SDKs, curl) until Ctrl-C.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import OpenAI from "openai";
import { serveTinyModel } from "../../../gpu-runner/dev/serve-tiny-model";
import { startRunner } from "../../../gpu-runner/dev/start-runner";
import { TINY_REPLY } from "../../../gpu-runner/dev/tiny-model/write-tiny-model";
import { createPhi4Client } from "../../../shared/src/client";
import { Renderer } from "../render";
import { freePort } from "./free-port";
import { createLocalKey, startEdge } from "./start-edge";

const REPO = "phi4-edge/tiny-phi4-reasoning";
const FILE = "tiny-phi4-reasoning-F16.gguf";
const QUESTION = "What comes after the alphabet?";
const say = (line: string) => process.stdout.write(`${line}\n`);

let keep = false;
try {
  keep = parseArgs({ options: { keep: { type: "boolean", default: false } } }).values.keep;
} catch (error) {
  process.stderr.write(`demo: ${(error as Error).message}\nusage: npm run demo [-- --keep]\n`);
  process.exit(2);
}

const dir = await mkdtemp(join(tmpdir(), "phi4-demo-"));
const cleanup: (() => Promise<unknown>)[] = [() => rm(dir, { recursive: true, force: true })];
let ok = false;
let runnerLogs: string[] = [];
try {
  // Throttled so the download shows (the tiny model is ~1.3 MB); DEMO_THROTTLE in bytes/s.
  const served = await serveTinyModel(dir, {
    repo: REPO,
    file: FILE,
    faults: { throttle: Number(process.env.DEMO_THROTTLE ?? 600_000) },
  });
  const { hub } = served;
  cleanup.unshift(() => hub.close());
  say(`hub emulator   ${hub.url} serving ${REPO}/${FILE}`);

  // The edge and the key come first, so the question below meets the runner's cold start.
  const runnerPort = await freePort();
  const runnerSecret = randomBytes(24).toString("hex");
  const edge = await startEdge({
    port: await freePort(),
    runnerUrl: `http://127.0.0.1:${runnerPort}`,
    runnerSecret,
    persistTo: join(dir, "edge-state"),
  });
  cleanup.unshift(() => edge.stop());
  const apiKey = await createLocalKey(`demo-${Date.now()}`, join(dir, "edge-state"));
  say(`edge           ${edge.url} (wrangler dev), API key ${apiKey.slice(0, 12)}…`);
  // The web playground is the edge's static page; no key needed to load it.
  const page = await fetch(`${edge.url}/`);
  const playground = page.ok && (await page.text()).includes("<title>phi4-edge playground</title>");
  say(`playground     ${edge.url}/ ${playground ? "(open it in a browser)" : "NOT SERVED"}`);

  const runner = await startRunner({
    ...served.runnerEnv(join(dir, "volume")),
    PORT: String(runnerPort),
    RUNNER_SECRET: runnerSecret,
    PARALLEL: "2",
    CONTEXT_SIZE: "4096",
    LOG_LEVEL: "info",
  });
  cleanup.unshift(() => runner.stop());
  runnerLogs = runner.logs;
  say(`runner         ${runner.url} (cold start: download → verify → load)\n`);

  // Asked at once: the client waits through the cold start and reports its phases.
  say(`you › ${QUESTION}`);
  const client = createPhi4Client({ url: edge.url, apiKey });
  const renderer = new Renderer(process.stdout, { reasoning: true, tty: false });
  let reasoning = "";
  let text = "";
  for await (const event of client.chat({
    messages: [{ role: "user", content: QUESTION }],
    temperature: 0,
  })) {
    if (event.type === "reasoning") reasoning += event.text;
    if (event.type === "text") text += event.text;
    renderer.write(event);
  }

  say("\nthe same question through the OpenAI SDK (POST /v1/chat/completions):");
  const openai = new OpenAI({ baseURL: `${edge.url}/v1`, apiKey, maxRetries: 0 });
  const completion = await openai.chat.completions.create({
    model: FILE.replace(/\.gguf$/, ""),
    messages: [{ role: "user", content: QUESTION }],
    temperature: 0,
  });
  const openaiText = completion.choices[0]?.message.content ?? "";
  say(`assistant › ${openaiText}`);

  ok =
    playground &&
    reasoning === TINY_REPLY.reasoning &&
    text === TINY_REPLY.text &&
    openaiText === TINY_REPLY.text;
  say(
    ok
      ? "\ndemo ok: both answers are the tiny model's exact greedy output"
      : "\ndemo FAILED: unexpected output",
  );
  if (ok && (keep || process.stdin.isTTY)) {
    // Someone at a terminal (or with --keep) can try this stack before it goes away.
    say(`
the stack keeps running: the playground at ${edge.url}/ (paste the API key ${apiKey})`);
    say(`or, from another terminal: npx phi4 chat "…" --url ${edge.url} --api-key ${apiKey}`);
    say(keep ? "Ctrl-C stops it" : "press Enter (or Ctrl-C) to stop it");
    // Ctrl-C reaches npm, tsx and this process alike, so SIGINT arrives more than once: every
    // one is caught (not just the first), or a repeat would kill this process before it stops
    // the stack and leave wrangler and the runner behind.
    await new Promise<void>((stop) => {
      process.on("SIGINT", () => stop());
      process.on("SIGTERM", () => stop());
      if (!keep) process.stdin.once("data", () => stop());
    });
  }
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  if (runnerLogs.length) process.stderr.write(`runner log:\n${runnerLogs.slice(-10).join("\n")}\n`);
} finally {
  for (const step of cleanup) await step().catch(() => {});
}
process.exit(ok ? 0 : 1);
