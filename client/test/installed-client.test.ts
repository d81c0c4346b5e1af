import { execFile } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { seedKeys } from "../../functions/test/seed-keys";
import { startEdge } from "../../functions/test/start-edge";
import { serveTinyModel } from "../../gpu-runner/dev/serve-tiny-model";
import { startRunner } from "../../gpu-runner/dev/start-runner";
import { TINY_REPLY } from "../../gpu-runner/dev/tiny-model/write-tiny-model";
import { packClient } from "../scripts/pack-client";
import { createScratchApp, withoutNpmSettings } from "./scratch-app";

const run = promisify(execFile);

/** What an app outside this repository writes: the README's example, checked and run. */
const MAIN = `import { type ChatEvent, type ChatInput, createPhi4Client, errorCode } from "@phi4-edge/client";

const [url = "", apiKey = ""] = process.argv.slice(2);
const phi4 = createPhi4Client({ url, apiKey });
const question: ChatInput = {
  messages: [{ role: "user", content: "What comes after the alphabet?" }],
  temperature: 0,
};
// @ts-expect-error \`temprature\` is no field of the chat input: the types are the contract's.
const typo: ChatInput = { messages: question.messages, temprature: 0 };
void typo;

const events: ChatEvent[] = [];
for await (const event of phi4.chat(question)) events.push(event);
const text = (type: "reasoning" | "text") =>
  events.map((e) => (e.type === type ? e.text : "")).join("");
const done = events.at(-1);
const model = await phi4.model();
let refused: string | undefined;
try {
  await createPhi4Client({ url, apiKey: "not-a-key" }).model();
} catch (error) {
  refused = errorCode(error);
}
console.log(JSON.stringify({
  reasoning: text("reasoning"),
  text: text("text"),
  finishReason: done?.type === "done" ? done.finishReason : undefined,
  file: model.file,
  refused,
}));
`;

const BROWSER = `import { createPhi4Client } from "@phi4-edge/client";
globalThis.phi4 = createPhi4Client({ url: location.origin });
`;

const NODENEXT = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    // As `tsc --init` writes it. A wrong or missing type in the package still fails the check:
    // the input would be `any` and main.ts's expected error would not occur.
    skipLibCheck: true,
    types: ["node"],
    outDir: "dist",
  },
  files: ["main.ts"],
};
const BUNDLER = {
  extends: "./tsconfig.json",
  compilerOptions: { module: "Preserve", moduleResolution: "Bundler", noEmit: true },
};

const REPO = "phi4-edge/tiny-phi4-reasoning";
const FILE = "tiny-phi4-reasoning-F16.gguf";

let work: string;
let app: string;
let edgeUrl: string;
let apiKey: string;
const cleanup: (() => Promise<unknown>)[] = [];

/** Hub emulator → runner (cold start from it) → the Worker under wrangler's dev server, + a key. */
async function startOfflineStack(dir: string): Promise<void> {
  const { hub, runnerEnv } = await serveTinyModel(dir, { repo: REPO, file: FILE });
  cleanup.push(() => hub.close());
  const runner = await startRunner({
    ...runnerEnv(join(dir, "volume")),
    PARALLEL: "1",
    CONTEXT_SIZE: "2048",
  });
  cleanup.unshift(() => runner.stop());
  const state = join(dir, "state");
  const edge = await startEdge({
    persistTo: state,
    vars: { RUNNER_URL: runner.url, RUNNER_SECRET: runner.secret },
  });
  cleanup.unshift(() => edge.dispose());
  edgeUrl = edge.url;
  apiKey = (await seedKeys(state, [{ name: "app" }])).app as string;
}

/** The client packed as npm publishes it, installed into an app in the system's temp folder. */
async function installIntoApp(dir: string): Promise<void> {
  const client = await packClient(dir);
  await createScratchApp({
    dir: app,
    client,
    devDependencies: ["typescript", "@types/node"],
    files: {
      "main.ts": MAIN,
      "browser.js": BROWSER,
      "tsconfig.json": JSON.stringify(NODENEXT),
      "tsconfig.bundler.json": JSON.stringify(BUNDLER),
    },
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "phi4-client-"));
  cleanup.push(() => rm(work, { recursive: true, force: true }));
  app = join(work, "app");
  await Promise.all([startOfflineStack(work), installIntoApp(work)]);
}, 240_000);
afterAll(async () => {
  for (const step of cleanup) await step().catch(() => {});
});

/** `node` binaries to run the app with: this test's (Node 22) and the system's, when ≥ 20. */
async function nodes(): Promise<{ path: string; version: string }[]> {
  const candidates = [process.execPath];
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const node = join(dir, "node");
    if (!dir.includes("node_modules") && existsSync(node)) {
      candidates.push(node);
      break;
    }
  }
  const found = new Map<string, { path: string; version: string }>();
  for (const path of candidates) {
    const { stdout } = await run(path, ["--version"]);
    const version = stdout.trim();
    if (Number(version.slice(1).split(".")[0]) >= 20)
      found.set(realpathSync(path), { path, version });
  }
  return [...found.values()];
}

let compiling: Promise<unknown> | undefined;
/** The app's own tsc, once for both tests that need it: NodeNext (emits dist/main.js) and Bundler. */
function compiled(): Promise<unknown> {
  const tsc = join(app, "node_modules/typescript/bin/tsc");
  compiling ??= Promise.all(
    ["tsconfig.json", "tsconfig.bundler.json"].map((config) =>
      run(process.execPath, [tsc, "-p", config], { cwd: app }),
    ),
  );
  return compiling;
}

describe("the client as an app outside this repository installs it", () => {
  test("the tarball holds built ESM and declarations, and depends on tRPC and zod only", async () => {
    const installed = join(app, "node_modules/@phi4-edge/client");
    const manifest = JSON.parse(await readFile(join(installed, "package.json"), "utf8"));
    expect(Object.keys(manifest.dependencies).sort()).toEqual([
      "@trpc/client",
      "@trpc/server",
      "zod",
    ]);
    expect(manifest.exports["."]).toEqual({
      types: "./dist/client.d.ts",
      default: "./dist/client.js",
    });
    expect(existsSync(join(installed, "dist/client.js"))).toBe(true);
    expect(existsSync(join(installed, "dist/client.d.ts"))).toBe(true);
    expect(existsSync(join(installed, "README.md"))).toBe(true);
  });

  test("type-checks under NodeNext and Bundler resolution; a misspelt input field is an error", async () => {
    // The @ts-expect-error in main.ts fails the check (TS2578) if the field is not an error,
    // i.e. if the installed types had degraded to `any`.
    await compiled();
    expect(existsSync(join(app, "dist/main.js"))).toBe(true);
  }, 120_000);

  test("bundles for the browser (no Node built-ins) without the router", async () => {
    const result = await build({
      absWorkingDir: app,
      entryPoints: ["browser.js"],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain("node_modules/@phi4-edge/client/dist/client.js");
    // The router (the contract's server side) is imported as a type only: it is not loaded.
    expect(inputs).not.toContain("node_modules/@phi4-edge/client/dist/router.js");
  });

  test("runs under plain Node and streams the tiny model's exact answer through the edge", async () => {
    await compiled();
    const found = await nodes();
    expect(found.length).toBeGreaterThan(0);
    for (const node of found) {
      const { stdout } = await run(node.path, ["dist/main.js", edgeUrl, apiKey], {
        cwd: app,
        env: withoutNpmSettings(),
      });
      const reply = JSON.parse(stdout.trim().split("\n").at(-1) ?? "");
      expect(reply, `node ${node.version}`).toEqual({
        reasoning: TINY_REPLY.reasoning,
        text: TINY_REPLY.text,
        finishReason: "stop",
        file: FILE,
        refused: "UNAUTHORIZED",
      });
    }
  }, 120_000);
});
