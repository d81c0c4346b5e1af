import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";
import { until } from "./with-stack";

const ROOT = resolve(import.meta.dirname, "../..");
const SECRET = "dev-runner-secret-0123456789";
const dir = mkdtempSync(join(tmpdir(), "phi4-edge-dev-"));
const state = join(dir, "state");
let runner: Server;
let dev: ChildProcess;
let edgeUrl: string;
const seenByRunner: (string | undefined)[] = [];

/** `npm run keys -- …` from the repo root, as a user types it. */
async function keys(...args: string[]): Promise<string[]> {
  const { stdout } = await promisify(execFile)("npm", ["run", "-s", "keys", "--", ...args], {
    cwd: ROOT,
  });
  return stdout.trimEnd().split("\n");
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

beforeAll(async () => {
  runner = createServer((req, res) => {
    seenByRunner.push(req.headers.authorization);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ object: "list", data: [{ id: "stand-in", object: "model" }] }));
  });
  await new Promise<void>((r) => runner.listen(0, "127.0.0.1", r));
  const port = await freePort();
  // The runner's address and secret come from the environment, extra flags after `--`.
  dev = spawn(
    "npm",
    ["run", "-w", "functions", "dev", "--", "--port", String(port), "--persist-to", state],
    {
      cwd: ROOT,
      detached: true,
      stdio: "ignore",
      env: {
        ...process.env,
        RUNNER_URL: `http://127.0.0.1:${(runner.address() as AddressInfo).port}`,
        RUNNER_SECRET: SECRET,
      },
    },
  );
  edgeUrl = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${edgeUrl}/healthz`)).ok, "wrangler dev");
}, 90_000);

afterAll(() => {
  if (dev?.pid) process.kill(-dev.pid, "SIGTERM");
  runner?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a key made with `npm run keys` works at once on the running dev server, until revoked", async () => {
  const models = (key: string) =>
    fetch(`${edgeUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  const created = await keys(
    "create",
    "--name",
    "dev-test",
    "--streams",
    "2",
    "--persist-to",
    state,
  );
  const key = created.at(-1)!;
  expect(key).toMatch(/^phi4_[A-Za-z0-9_-]{43}$/);
  expect(created.slice(0, -1).join("\n")).not.toContain(key);

  const ok = await models(key);
  expect(ok.status).toBe(200);
  expect(await ok.json()).toMatchObject({ data: [{ id: "stand-in" }] });
  expect(seenByRunner.at(-1)).toBe(`Bearer ${SECRET}`);

  const listed = (await keys("list", "--persist-to", state)).join("\n");
  expect(listed).toContain("dev-test");
  expect(listed).toContain('"streams":2');
  expect(listed).not.toContain(key);

  await keys("revoke", "--name", "dev-test", "--persist-to", state);
  // An isolate keeps a key record it read for KEY_CACHE_MS (5 s by default): the revocation
  // must take effect within that bound.
  const revokedAt = performance.now();
  let refused = await models(key);
  while (refused.status === 200 && performance.now() - revokedAt < 5_000 + 500) {
    await refused.body?.cancel();
    await new Promise((r) => setTimeout(r, 100));
    refused = await models(key);
  }
  expect(refused.status).toBe(401);
  expect(await refused.json()).toMatchObject({ error: { message: "API key revoked" } });
}, 60_000);
