/**
 * The web playground in a real browser (Debian's Chromium via playwright-core) against the real
 * offline stack: Hub emulator → runner cold start (download, load) → Worker under workerd. The
 * model is the tiny one with an endless answer, so a stream is still running when the test
 * looks at it and presses Stop.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { freePort } from "../../cli/src/stack/free-port";
import type { HubEmulator } from "../../gpu-runner/dev/hub-emulator/start-hub-emulator";
import { serveTinyModel } from "../../gpu-runner/dev/serve-tiny-model";
import { type StartedRunner, startRunner } from "../../gpu-runner/dev/start-runner";
import { ENDLESS_ITEM, TINY_REPLY } from "../../gpu-runner/dev/tiny-model/write-tiny-model";
import { type Chromium, chromiumMissing, launchChromium } from "./chromium";
import { seedKeys } from "./seed-keys";
import { type StartedEdge, startEdge } from "./start-edge";
import { runnerMetric, until } from "./with-stack";

const REPO = "phi4-edge/tiny-endless";
const FILE = "tiny-endless-F16.gguf";
/** `SCREENSHOT=docs/playground.png npx vitest run functions/test/playground.test.ts` updates the README's picture. */
const SCREENSHOT = process.env.SCREENSHOT;

const missing = chromiumMissing();
if (missing) console.warn(missing);

describe.skipIf(missing)("the playground in Chromium", () => {
  let dir: string;
  let hub: HubEmulator;
  let runner: StartedRunner;
  let edge: StartedEdge;
  let browser: Chromium;
  let page: Page;
  let keys: Record<string, string>;

  beforeAll(async () => {
    browser = await launchChromium({ width: 760, height: 800 }); // first: fails fast in CI
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    dir = await mkdtemp(join(tmpdir(), "phi4-playground-"));
    // ~27 s for the whole file: still downloading when the page asks; the test lifts it.
    const served = await serveTinyModel(dir, {
      repo: REPO,
      file: FILE,
      model: { endless: true },
      faults: { throttle: 48 * 1024 },
    });
    hub = served.hub;
    // The edge and the keys first: the runner's download then starts just before the page asks.
    const runnerPort = await freePort();
    const runnerSecret = randomBytes(24).toString("hex");
    edge = await startEdge({
      persistTo: join(dir, "state"),
      vars: { RUNNER_URL: `http://127.0.0.1:${runnerPort}`, RUNNER_SECRET: runnerSecret },
    });
    keys = await seedKeys(join(dir, "state"), [
      { name: "main" },
      { name: "limited", limits: { perMinute: 1 } },
    ]);
    runner = await startRunner({
      ...served.runnerEnv(join(dir, "volume")),
      PORT: String(runnerPort),
      RUNNER_SECRET: runnerSecret,
      PARALLEL: "2",
      CONTEXT_SIZE: "8192",
    });
    page.setDefaultTimeout(90_000);
    // Records the order in which the first answer's parts get their first text.
    await page.addInitScript({
      content: `
        window.firstSeen = [];
        const parts = { status: ".assistant .status li", reasoning: ".assistant .reasoning .text", answer: ".assistant .answer" };
        const look = () => {
          for (const [name, selector] of Object.entries(parts)) {
            if (!firstSeen.includes(name) && document.querySelector(selector)?.textContent) firstSeen.push(name);
          }
        };
        addEventListener("DOMContentLoaded", () =>
          new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true }));
      `,
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await edge?.dispose();
    await runner?.stop("SIGKILL");
    await hub?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const lastTurn = () => page.locator(".turn.assistant").last();
  /** Waits for `locator`; a timeout says what the page and the runner showed instead. */
  const waitFor = async (locator: Locator) => {
    try {
      await locator.waitFor();
    } catch (error) {
      const shown = await page
        .locator("main")
        .textContent()
        .catch(() => "?");
      throw new Error(
        `${(error as Error).message}\n--- page:\n${(shown ?? "").slice(-1500)}\n--- runner log:\n${runner.logs.slice(-8).join("\n")}`,
      );
    }
  };
  const ended = async () =>
    (await runnerMetric(runner, "phi4_requests_total", 'outcome="cancelled"')) +
    (await runnerMetric(runner, "phi4_requests_total", 'outcome="abort"'));

  test("a question meets the cold start, streams reasoning then a Markdown answer, and Stop frees the sequence", async () => {
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(edge.url);
    await expect(page.title()).resolves.toBe("phi4-edge playground");

    await page.fill("#api-key", keys.main!);
    await page.fill("#question", "What comes after the alphabet?");
    await page.press("#question", "Enter");

    // The download is throttled: its status line shows with a percentage, before any token.
    await waitFor(lastTurn().locator(".status li", { hasText: /^Downloading the model… \d+%$/ }));
    await expect(lastTurn().locator(".answer").textContent()).resolves.toBe("");
    hub.setFaults({});

    // Reasoning streams, then folds away once the answer's Markdown list grows.
    const items = lastTurn().locator(".answer li");
    await waitFor(items.nth(2));
    await expect(page.evaluate("window.firstSeen")).resolves.toEqual([
      "status",
      "reasoning",
      "answer",
    ]);
    const reasoning = lastTurn().locator(".reasoning");
    await expect(reasoning.locator(".text").textContent()).resolves.toBe(TINY_REPLY.reasoning);
    await expect(reasoning.evaluate((d) => (d as unknown as { open: boolean }).open)).resolves.toBe(
      false,
    );
    await expect(lastTurn().locator(".status").textContent()).resolves.toMatch(/Loading the model/);
    await expect(items.first().textContent()).resolves.toBe(TINY_REPLY.text);
    await expect(page.isVisible("#stop")).resolves.toBe(true);

    const picture = await page.screenshot({ type: "png" });
    expect(picture.length).toBeLessThan(200 * 1024);
    await writeFile(SCREENSHOT ? resolve(SCREENSHOT) : join(dir, "playground.png"), picture);

    const before = await ended();
    await page.click("#stop");
    await waitFor(lastTurn().locator(".meta", { hasText: "Stopped." }));
    await expect(page.isHidden("#stop")).resolves.toBe(true);
    await until(async () => (await ended()) > before, "the runner saw the abort");
    await until(
      async () => (await runnerMetric(runner, "phi4_active_sequences")) === 0,
      "the runner freed the sequence",
    );

    // The key stays in this tab's sessionStorage, never in the address.
    expect(page.url()).not.toContain(keys.main!);
    await expect(page.evaluate("sessionStorage.getItem('phi4-edge.apiKey')")).resolves.toBe(
      keys.main,
    );
    expect(pageErrors).toEqual([]);
  }, 180_000);

  test("the next question carries the conversation and ends with usage and speed", async () => {
    await page.click("#settings summary");
    await page.fill("#max-tokens", "40");
    await page.fill("#question", "And then?");
    const request = page.waitForRequest((r) => r.url().includes("/trpc/chat"));
    await page.press("#question", "Enter");
    const body = JSON.parse((await request).postData() ?? "{}") as {
      0: { messages: { role: string; content: string }[]; maxTokens: number };
    };
    expect(body[0].messages.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(body[0].messages[1]?.content.startsWith(`${TINY_REPLY.text}${ENDLESS_ITEM}`)).toBe(true);
    expect(body[0].maxTokens).toBe(40);

    const meta = lastTurn().locator(".meta");
    await waitFor(meta.filter({ hasText: "tok/s" }));
    await expect(meta.textContent()).resolves.toMatch(
      /^40 tokens \(26 reasoning\) · [\d.]+ tok\/s · first token \d+ ms · prompt \d+ · cut at max tokens$/,
    );
    await expect(page.isEnabled("#send")).resolves.toBe(true);
  }, 120_000);

  test("a wrong key and a spent rate limit get their own messages", async () => {
    await page.click("#new"); // a fresh conversation, whatever the tests before left running
    await page.fill("#api-key", "phi4_not-a-key-0000000000000000000000");
    await page.fill("#question", "Hello?");
    await page.press("#question", "Enter");
    await waitFor(lastTurn().locator(".error"));
    await expect(lastTurn().locator(".error").textContent()).resolves.toMatch(
      /^The API key was refused\./,
    );
    // Nothing came back: the question is there to send again.
    await expect(page.inputValue("#question")).resolves.toBe("Hello?");

    await page.fill("#api-key", keys.limited!);
    await page.press("#question", "Enter");
    await waitFor(lastTurn().locator(".meta", { hasText: "tok/s" }));
    await page.fill("#question", "Once more?");
    await page.press("#question", "Enter");
    await waitFor(lastTurn().locator(".error"));
    await expect(lastTurn().locator(".error").textContent()).resolves.toMatch(
      /^Too many requests for this key\. Retry in \d+ s\.$/,
    );
  }, 120_000);

  test("reads on a phone in light and dark, and Esc stops an answer", async () => {
    await page.setViewportSize({ width: 360, height: 720 });
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const look = (await page.evaluate(`({
        overflow: document.documentElement.scrollWidth - innerWidth,
        background: getComputedStyle(document.body).backgroundColor,
      })`)) as { overflow: number; background: string };
      expect(look.overflow, scheme).toBeLessThanOrEqual(0);
      const [r = 0, g = 0, b = 0] = look.background.match(/\d+/g)?.map(Number) ?? [];
      const brightness = (r + g + b) / 3;
      if (scheme === "light") expect(brightness).toBeGreaterThan(200);
      else expect(brightness).toBeLessThan(60);
    }

    await page.click("#new");
    await page.fill("#api-key", keys.main!);
    await page.fill("#max-tokens", "");
    await page.fill("#question", "Keep going");
    await page.press("#question", "Enter");
    await waitFor(lastTurn().locator(".answer li").nth(1));
    const before = await ended();
    await page.keyboard.press("Escape");
    await waitFor(lastTurn().locator(".meta", { hasText: "Stopped." }));
    await until(async () => (await ended()) > before, "the runner saw the abort");
    await expect(
      page.evaluate("document.documentElement.scrollWidth - innerWidth"),
    ).resolves.toBeLessThanOrEqual(0);
  }, 120_000);
});

test("the committed screenshot is a small PNG", async () => {
  const file = resolve(import.meta.dirname, "../../docs/playground.png");
  expect((await stat(file)).size).toBeLessThan(200 * 1024);
});
