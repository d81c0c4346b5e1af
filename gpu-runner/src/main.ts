import { basename } from "node:path";
import { serve } from "@hono/node-server";
import { LlamaEngine } from "./engine/llama-engine";
import { ConfigError, modelSource, parseEnv, type RunnerEnv } from "./env";
import { createLogger } from "./log";
import { ensureModel } from "./model-store/ensure-model";
import { HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS } from "./server/connection-timeouts";
import { createApp } from "./server/create-app";
import { reportLoad } from "./server/load-report";
import { Metrics } from "./server/metrics";

/** How long waiting chats get to receive the cold-start error before a failed runner exits. */
const FAILED_DRAIN_MS = 2000;

/**
 * The runner: listens at once, then downloads (or takes `MODEL_PATH`) and loads the model.
 * Until it is ready `/readyz` answers 503 with the phase, and chats wait with status events.
 */
async function main() {
  let env: RunnerEnv;
  try {
    env = parseEnv();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  const logger = createLogger(env.LOG_LEVEL);
  if (env.RUNNER_INSECURE && !env.RUNNER_SECRET) {
    logger.warn("RUNNER_INSECURE=1: no bearer secret is required (local development only)");
  }
  const metrics = new Metrics();
  const engine = new LlamaEngine({
    gpu: env.GPU,
    threads: env.THREADS,
    parallel: env.PARALLEL,
    contextSize: env.CONTEXT_SIZE,
    queueMax: env.QUEUE_MAX,
    logger,
    observer: metrics,
  });
  const modelId = basename(env.MODEL_PATH ?? env.MODEL_FILE).replace(/\.gguf$/i, "");
  const app = createApp({ engine, logger, metrics, secret: env.RUNNER_SECRET, modelId });
  const server = serve(
    {
      fetch: app.fetch,
      port: env.PORT,
      // Outlast the load balancer's idle timeout, or it reuses connections the runner closed.
      serverOptions: {
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        headersTimeout: HEADERS_TIMEOUT_MS,
        requestTimeout: HEADERS_TIMEOUT_MS,
      },
    },
    (info) => {
      // Always logged, whatever LOG_LEVEL: supervisors and tests wait for this line.
      logger.child({}, { level: "info" }).info({ port: info.port }, "listening");
    },
  );

  server.on("error", (error) => {
    logger.fatal({ err: error.message, port: env.PORT }, "cannot listen");
    process.exit(1);
  });

  const stopLoadReport = env.CLOUDWATCH_METRICS_NAMESPACE
    ? reportLoad({
        namespace: env.CLOUDWATCH_METRICS_NAMESPACE,
        intervalMs: env.LOAD_REPORT_SECONDS * 1000,
        logger,
        load: () => metrics.load(),
      })
    : () => {};

  const coldStart = new AbortController();
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const drainMs = env.DRAIN_SECONDS * 1000;
    logger.info({ signal, drainMs }, "shutting down: draining streams");
    coldStart.abort(new Error(`stopped by ${signal}`));
    stopLoadReport();
    // Still listening while draining: new calls get SERVICE_UNAVAILABLE with a Retry-After
    // (callers go round again, to another runner), where a closed port was a 502 at the edge.
    await engine.drain(drainMs);
    server.close();
    await engine.dispose().catch(() => {});
    // Idle keep-alive connections would hold the event loop open.
    if ("closeAllConnections" in server) server.closeAllConnections();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", (s) => void stop(s));
  process.on("SIGINT", (s) => void stop(s));

  try {
    if (env.MODEL_PATH) {
      await engine.load(env.MODEL_PATH);
    } else {
      engine.setDownloading(0);
      const model = await ensureModel({
        ...modelSource(env),
        signal: coldStart.signal,
        logger,
        onProgress: (p) => {
          if (p.downloader === "self") metrics.downloaded(p.bytes);
          if (p.phase === "ready") return;
          engine.setDownloading(p.totalBytes ? p.bytes / p.totalBytes : undefined);
        },
      });
      await engine.load(model.path, {
        repo: env.MODEL_REPO,
        file: env.MODEL_FILE,
        revision: model.commit,
      });
    }
  } catch (error) {
    if (stopping) return;
    engine.fail(error);
    logger.fatal(
      { err: error instanceof Error ? error.message : String(error) },
      "cold start failed",
    );
    // A runner that cannot serve should be replaced, not linger unready. Waiting chats were
    // just rejected; exiting in this tick would cut their streams before the error is written.
    // close() resolves once every connection is done (idle keep-alive ones are closed at once).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FAILED_DRAIN_MS);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    process.exit(1);
  }
}

await main();
