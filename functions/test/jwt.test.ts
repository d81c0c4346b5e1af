import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type StartedEdge, startEdge } from "./start-edge";

const dir = mkdtempSync(join(tmpdir(), "phi4-edge-jwt-"));
const ISSUER = "https://issuer.test/";
const AUDIENCE = "phi4-edge";
const servers: Server[] = [];
const callers: (string | undefined)[] = [];
let edge: StartedEdge;
let signingKey: CryptoKey;
let otherKey: CryptoKey;

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const pair = await generateKeyPair("ES256");
  signingKey = pair.privateKey;
  otherKey = (await generateKeyPair("ES256")).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const jwks = await listen((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  const runner = await listen((req, res) => {
    callers.push(req.headers["x-phi4-caller"] as string | undefined);
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"object":"list","data":[]}');
  });
  edge = await startEdge({
    persistTo: join(dir, "state"),
    vars: {
      RUNNER_URL: runner,
      RUNNER_SECRET: "jwt-test-runner-secret",
      JWT_JWKS_URL: `${jwks}/.well-known/jwks.json`,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
    },
  });
}, 60_000);
afterAll(async () => {
  await edge?.dispose();
  for (const server of servers) server.close();
  rmSync(dir, { recursive: true, force: true });
});

const token = (claims: { aud?: string; exp?: string; otherKey?: boolean }) =>
  new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer(ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setSubject("alice")
    .setIssuedAt()
    .setExpirationTime(claims.exp ?? "5m")
    .sign(claims.otherKey ? otherKey : signingKey);

const models = (jwt: string) =>
  fetch(`${edge.url}/v1/models`, { headers: { authorization: `Bearer ${jwt}` } });

test("a valid JWT passes; the runner sees its subject as the caller", async () => {
  const res = await models(await token({}));
  expect(res.status).toBe(200);
  expect(callers).toEqual(["jwt:alice"]);
});

test.each([
  ["wrong audience", { aud: "someone-else" }],
  ["expired", { exp: "-1m" }],
  ["signed by another key", { otherKey: true }],
])("%s → 401", async (_name, claims) => {
  const before = callers.length;
  const res = await models(await token(claims));
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
  expect(callers.length).toBe(before);
});
