import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/**
 * Debian's Chromium (`apt-get install chromium`), or another Chromium/Chrome binary named by
 * CHROMIUM_PATH; playwright-core never downloads a browser.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

// Offline and quiet: no QUIC, sync, component updates or background calls to the outside.
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Why the browser tests cannot run here, or undefined when they can. Under CI=true a missing
 * Chromium is a failure (the tests run and say so), never a skip.
 */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM) || process.env.CI === "true") return undefined;
  return `playground browser tests SKIPPED: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`;
}

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile (removed on close). */
export async function launchChromium(options: {
  width: number;
  height: number;
}): Promise<Chromium> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: apt-get update && apt-get install -y chromium (.ci/run does this)`,
    );
  }
  const profile = await mkdtemp(join(tmpdir(), "phi4-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true, // Playwright adds --headless
    args: ARGS,
    viewport: options,
    colorScheme: "light",
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
