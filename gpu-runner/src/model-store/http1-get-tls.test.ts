import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";

// The Hub and its CDN are HTTPS only: http1Get over real TLS, against a local server whose
// certificate (made here by openssl) is trusted only through NODE_EXTRA_CA_CERTS, which Node
// reads at start-up, so each download runs in a child process.
const run = promisify(execFile);
const data = randomBytes(3 * 1024 * 1024 + 5); // several TLS records and socket reads
let dir: string;
let url: string;
let close: () => void;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "http1-tls-"));
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost",
    "-keyout",
    join(dir, "key.pem"),
    "-out",
    join(dir, "cert.pem"),
  ]);
  const server = createServer(
    { key: await readFile(join(dir, "key.pem")), cert: await readFile(join(dir, "cert.pem")) },
    (req, res) => {
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
      res.writeHead(from ? 206 : 200, { "Content-Length": data.length - from });
      res.end(data.subarray(from));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  close = () => {
    server.close();
    server.closeAllConnections();
  };
  url = `https://localhost:${(server.address() as AddressInfo).port}/file`;
  // Prints the status, the body's length and its sha256.
  await writeFile(
    join(dir, "get.mts"),
    `import { createHash } from "node:crypto";
import { http1Get } from ${JSON.stringify(join(import.meta.dirname, "http1-get.ts"))};
const res = await http1Get(new URL(process.argv[2]), {
  headers: { Range: process.argv[3] },
  signal: new AbortController().signal,
  idleMs: 20_000,
  onIdle: () => new Error("idle"),
});
const hash = createHash("sha256");
let length = 0;
await res.read((view) => { hash.update(view); length += view.length; return true; });
console.log(JSON.stringify({ status: res.status, length, sha256: hash.digest("hex") }));
`,
  );
});

afterAll(async () => {
  close?.();
  await rm(dir, { recursive: true, force: true });
});

function get(range: string, env: Record<string, string> = {}) {
  return run(process.execPath, ["--import", "tsx", join(dir, "get.mts"), url, range], {
    cwd: import.meta.dirname,
    env: { ...process.env, ...env },
  });
}

it("reads a ranged body over TLS, verified against the trusted certificate by name", async () => {
  const { stdout } = await get("bytes=7-", { NODE_EXTRA_CA_CERTS: join(dir, "cert.pem") });
  expect(JSON.parse(stdout)).toEqual({
    status: 206,
    length: data.length - 7,
    sha256: createHash("sha256").update(data.subarray(7)).digest("hex"),
  });
}, 60_000);

it("refuses a server whose certificate it does not trust", async () => {
  const failed = await get("bytes=0-").catch((error: { stderr: string }) => error);
  expect(failed).toHaveProperty("stderr");
  expect((failed as { stderr: string }).stderr).toMatch(/self[- ]signed|unable to verify/i);
}, 60_000);
