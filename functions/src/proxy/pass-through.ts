import type { Handler } from "hono";
import type { EdgeEnv } from "../edge-env";
import { EdgeError } from "../http/edge-error";
import { isNoRunnerResponse } from "../wake/waking-error";
import { readBody } from "./read-body";
import { framingOf, relayBody } from "./relay-body";
import type { RunnerUnavailable, RunnerUnavailablePolicy } from "./runner-unavailable";

/** Hop-by-hop headers (RFC 9110 §7.6.1) and the caller's credentials never cross the edge. */
const STRIPPED_REQUEST = [
  "authorization",
  "cookie",
  "proxy-authorization",
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
  "x-phi4-caller",
  "x-request-id",
];
const STRIPPED_RESPONSE = [
  "connection",
  "keep-alive",
  "transfer-encoding",
  "trailer",
  "upgrade",
  "proxy-authenticate",
  "set-cookie",
];
/** Told to callers retrying a runner that is still starting. */
const COLD_START_RETRY_S = "5";

export interface PassThroughOptions {
  onRunnerUnavailable: RunnerUnavailablePolicy;
}

/**
 * Forwards an allowed request to the runner with the runner's secret, and streams the answer
 * back unbuffered. The caller's abort (request.signal) cancels the runner's request; the
 * caller's stream lease is released when the body ends, however it ends.
 */
export function passThrough(options: PassThroughOptions): Handler<EdgeEnv> {
  return async function passThrough(c) {
    const config = c.get("config");
    const requestId = c.get("requestId");
    const log = c.get("log");
    const url = new URL(c.req.url);
    const target = `${config.RUNNER_URL}${url.pathname}${url.search}`;
    const body = await readBody(c.req.raw, config.MAX_BODY_BYTES);

    const headers = new Headers(c.req.raw.headers);
    for (const name of STRIPPED_REQUEST) headers.delete(name);
    headers.set("authorization", `Bearer ${config.RUNNER_SECRET}`);
    headers.set("x-phi4-caller", c.get("caller").id);
    headers.set("x-request-id", requestId);

    /** Tells the policy (in the background) and returns its refusal for the caller, if any. */
    const unavailable = (reason: RunnerUnavailable["reason"]) => {
      const event = { reason, requestId };
      c.executionCtx.waitUntil(
        Promise.resolve()
          .then(() => options.onRunnerUnavailable.notify(event, config))
          .catch((error) => log.error({ err: String(error) }, "runner-unavailable hook failed")),
      );
      return options.onRunnerUnavailable.refusal(event, config);
    };

    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new Error("runner timeout")),
      config.RUNNER_TIMEOUT_MS,
    );
    const callerSignal = c.req.raw.signal;
    const started = Date.now();
    let upstream: Response;
    try {
      upstream = await fetch(target, {
        method: c.req.method,
        headers,
        body,
        signal: AbortSignal.any([callerSignal, timeout.signal]),
      });
    } catch (error) {
      if (callerSignal.aborted) throw callerSignal.reason;
      if (timeout.signal.aborted) {
        throw (
          unavailable("timeout") ??
          new EdgeError("GATEWAY_TIMEOUT", "the model runner did not answer in time", {
            cause: error,
          })
        );
      }
      log.warn({ err: String(error), ms: Date.now() - started }, "runner unreachable");
      throw (
        unavailable("unreachable") ??
        new EdgeError("BAD_GATEWAY", "the model runner is unreachable", { cause: error })
      );
    } finally {
      clearTimeout(timer);
    }

    if (upstream.status === 503) {
      const refusal = unavailable(isNoRunnerResponse(upstream) ? "no-runner" : "not-ready");
      if (refusal) {
        await upstream.body?.cancel();
        throw refusal;
      }
    }

    const responseHeaders = new Headers(upstream.headers);
    for (const name of STRIPPED_RESPONSE) responseHeaders.delete(name);
    // A known length is kept (a chunked answer to a small request stalled ~20 ms locally),
    // unless the body was encoded: fetch hands it over decoded, so the length would lie.
    const encoding = upstream.headers.get("content-encoding");
    if (encoding && encoding !== "identity") responseHeaders.delete("content-length");
    responseHeaders.set("x-request-id", requestId);
    // Cloudflare compresses some types, and a compressor holds tokens back until the end.
    if (!responseHeaders.has("content-encoding"))
      responseHeaders.set("content-encoding", "identity");
    if (upstream.status === 503 && !responseHeaders.has("retry-after")) {
      responseHeaders.set("retry-after", COLD_START_RETRY_S);
    }

    const release = c.get("release");
    if (!upstream.body) {
      return new Response(null, { status: upstream.status, headers: responseHeaders });
    }
    c.set("streaming", true);
    const relayed = relayBody(upstream.body, {
      framing: framingOf(url.pathname, upstream.headers.get("content-type")),
      path: url.pathname,
      idleMs: config.STREAM_IDLE_MS,
      onEnd: (end, cause) => {
        if (end !== "done") log.warn({ end, err: cause ? String(cause) : undefined }, "stream cut");
        c.executionCtx.waitUntil(release());
      },
    });
    return new Response(relayed, { status: upstream.status, headers: responseHeaders });
  };
}
