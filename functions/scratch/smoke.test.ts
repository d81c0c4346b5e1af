import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, expect } from "vitest";
import { startEdge } from "../test/start-edge";

test("smoke", async () => {
  const dir = mkdtempSync(join(tmpdir(), "edge-"));
  const t0 = Date.now();
  const edge = await startEdge({ vars: { RUNNER_URL: "http://127.0.0.1:9", RUNNER_SECRET: "0123456789abcdef0123" }, persistTo: dir });
  console.log("started", Date.now() - t0, edge.url);
  for (const [path, init] of [["/healthz", {}], ["/nope", {}], ["/trpc/chat", { method: "POST" }], ["/v1/models", { headers: { authorization: "Bearer phi4_" + "a".repeat(43) } }], ["/v1/models", { headers: { authorization: "Basic x" } }]] as const) {
    const res = await fetch(edge.url + path, init as RequestInit);
    console.log(path, res.status, [...res.headers], await res.text());
  }
  console.log(edge.logs);
  await edge.dispose();
});
