import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChatEvent } from "@phi4-edge/shared";
import { createPhi4Client, errorCode } from "@phi4-edge/shared/client";
import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { HubEmulator } from "../../dev/hub-emulator/start-hub-emulator";
import { type ServedTinyModel, serveTinyModel } from "../../dev/serve-tiny-model";
import { type StartedRunner, startRunner } from "../../dev/start-runner";
import { TINY_REPLY } from "../../dev/tiny-model/write-tiny-model";

// The real runner downloading the tiny model from the Hub emulator, throttled so that the
// downloading phase lasts a few seconds and can be observed.
const REPO = "test-owner/tiny-phi4-GGUF";
const FILE = "tiny-phi4-F16.gguf";
let dir: string;
let hub: HubEmulator;
let runner: StartedRunner | undefined;
let size: number;
let runnerEnv: ServedTinyModel["runnerEnv"];
let other: StartedRunner | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cold-start-"));
  const served = await serveTinyModel(dir, { repo: REPO, file: FILE });
  ({ hub, size, runnerEnv } = served);
  hub.setFaults({ throttle: Math.ceil(size / 3) });
});

afterAll(async () => {
  await runner?.stop("SIGKILL");
  await other?.stop("SIGKILL");
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

it("listens at once, reports the cold-start phases on /readyz and to waiting chats, then serves", async () => {
  runner = await startRunner({
    ...runnerEnv(join(dir, "volume")),
    CONTEXT_SIZE: "2048",
    PARALLEL: "1",
  });
  const { url, secret } = runner;
  runner.child.once("exit", (code) => {
    if (code !== null && code !== 0) console.error(runner?.logs.join("\n"));
  });

  // A chat made during the cold start waits and sees the phases, then gets its tokens.
  const client = createPhi4Client({ url, apiKey: secret });
  const chatEvents: ChatEvent[] = [];
  const chat = (async () => {
    for await (const event of client.chat({ messages: [{ role: "user", content: "hi" }] })) {
      chatEvents.push(event);
    }
  })();

  const seen: { status: number; phase: string; progress?: number }[] = [];
  for (;;) {
    const response = await fetch(`${url}/readyz`);
    const body = (await response.json()) as { phase: string; progress?: number };
    seen.push({ status: response.status, ...body });
    if (response.status === 200) break;
    expect(response.status).toBe(503);
    await new Promise((r) => setTimeout(r, 100));
  }
  const downloading = seen.filter((s) => s.phase === "downloading");
  expect(downloading.length).toBeGreaterThan(1);
  expect(downloading.some((s) => (s.progress ?? 0) > 0 && (s.progress ?? 0) < 1)).toBe(true);
  expect(seen.at(-1)).toEqual({ status: 200, phase: "ready" });

  await chat;
  const phases = chatEvents.flatMap((e) => (e.type === "status" ? [e.phase] : []));
  expect(phases[0]).toBe("downloading");
  expect(phases.at(-1)).toBe("ready");
  expect(chatEvents.map((e) => (e.type === "text" ? e.text : "")).join("")).toBe(TINY_REPLY.text);

  expect(await client.model()).toMatchObject({
    repo: REPO,
    file: FILE,
    revision: hub.commitOf(REPO),
  });
  const metrics = await (
    await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${secret}` } })
  ).text();
  expect(metrics).toMatch(new RegExp(`^phi4_model_download_bytes ${size}$`, "m"));
  expect(metrics).toMatch(/^phi4_model_load_seconds [0-9.]*[1-9]/m);
}, 60_000);

it("gives OpenAI callers made during the cold start their whole reply, stream and non-stream", async () => {
  other = await startRunner({
    ...runnerEnv(join(dir, "volume-openai")),
    CONTEXT_SIZE: "2048",
    PARALLEL: "2",
  });
  const openai = new OpenAI({ baseURL: `${other.url}/v1`, apiKey: other.secret, maxRetries: 0 });
  const messages = [{ role: "user" as const, content: "hi" }];
  // The stream hears several status events in a row (no OpenAI chunk for them) while it waits.
  const streamed = (async () => {
    const stream = await openai.chat.completions.create({ model: "tiny", messages, stream: true });
    let text = "";
    for await (const part of stream) text += part.choices[0]?.delta.content ?? "";
    return text;
  })();
  // The non-stream call gets its headers at once and spaces until the JSON is ready.
  const whole = openai.chat.completions.create({ model: "tiny", messages, stream: false });
  expect(await streamed).toBe(TINY_REPLY.text);
  expect((await whole).choices[0]?.message.content).toBe(TINY_REPLY.text);
  await other.stop("SIGKILL");
}, 60_000);

it("ends chats waiting on a failed cold start with a typed error, then exits 1", async () => {
  hub.setFaults({ throttle: Math.ceil(size / 3), corrupt: true });
  other = await startRunner({
    ...runnerEnv(join(dir, "volume-corrupt")),
    CONTEXT_SIZE: "2048",
  });
  const { child } = other;
  const exited =
    child.exitCode !== null
      ? Promise.resolve(child.exitCode)
      : new Promise<number | null>((resolve) => child.once("exit", resolve));
  const client = createPhi4Client({ url: other.url, apiKey: other.secret });
  const events: ChatEvent[] = [];
  let failure: unknown;
  try {
    for await (const event of client.chat({ messages: [{ role: "user", content: "hi" }] })) {
      events.push(event);
    }
  } catch (error) {
    failure = error;
  }
  // It was waiting through the download, then heard why the runner cannot serve.
  expect(events[0]).toMatchObject({ type: "status", phase: "downloading" });
  expect(errorCode(failure)).toBe("INTERNAL_SERVER_ERROR");
  expect((failure as Error).message).toMatch(/model failed to load: .*does not match the Hub/);
  expect(await exited).toBe(1);
}, 60_000);
