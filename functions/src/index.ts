import { Hono } from "hono";

// The edge (auth, limits, pass-through to the runner) lands with its own issue; until then the
// Worker only answers its health check.
const app = new Hono();
app.get("/healthz", (c) => c.json({ ok: true }));

export default app;
