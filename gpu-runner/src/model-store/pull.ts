/**
 * `npm run -w gpu-runner pull`: download and verify the model into MODEL_CACHE_DIR with the
 * runner's environment, without serving. Progress goes to stderr (a bar on a TTY, JSON lines
 * otherwise); the verified local path is the last line on stdout; failures are one line, exit 1.
 */
import pino from "pino";
import { ConfigError, modelSource, parseEnv } from "../env";
import { ensureModel, type ModelProgress } from "./ensure-model";
import { ModelStoreError } from "./errors";
import { formatBytes } from "./format-bytes";

async function main(): Promise<number> {
  // Pull does not serve, so the serving secret is neither needed nor checked.
  const { RUNNER_SECRET: _secret, ...rest } = process.env;
  const env = parseEnv({ ...rest, RUNNER_INSECURE: "1" });
  const tty = Boolean(process.stderr.isTTY);
  const logger = pino(
    { level: tty ? "warn" : env.LOG_LEVEL, base: { cmd: "pull" } },
    pino.destination(2),
  );
  if (env.MODEL_PATH) {
    logger.warn(
      { modelPath: env.MODEL_PATH },
      "MODEL_PATH is set: the runner loads it instead; pulling MODEL_REPO anyway",
    );
  }
  const controller = new AbortController();
  const interrupt = (signal: NodeJS.Signals) => controller.abort(new Interrupted(signal));
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  const show = tty ? progressBar() : jsonLines();
  const model = await ensureModel({
    ...modelSource(env),
    signal: controller.signal,
    onProgress: show,
    logger,
  });
  if (tty) process.stderr.write("\n");
  process.stdout.write(`${model.path}\n`);
  return 0;
}

class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}; a partial download is kept and the next pull resumes it`);
  }
}

function jsonLines(): (p: ModelProgress) => void {
  return (p) => {
    const progress = p.totalBytes ? Math.round((p.bytes / p.totalBytes) * 1000) / 1000 : undefined;
    process.stderr.write(
      `${JSON.stringify({ ...p, ...(progress === undefined ? {} : { progress }) })}\n`,
    );
  };
}

function progressBar(): (p: ModelProgress) => void {
  let last = { at: performance.now(), bytes: 0 };
  let rate = 0;
  return (p) => {
    const now = performance.now();
    if (now > last.at && p.bytes >= last.bytes) {
      const instant = ((p.bytes - last.bytes) / (now - last.at)) * 1000;
      rate = rate === 0 ? instant : rate * 0.7 + instant * 0.3;
    }
    last = { at: now, bytes: p.bytes };
    const width = 30;
    const fraction = p.totalBytes ? Math.min(1, p.bytes / p.totalBytes) : 0;
    const bar = "#".repeat(Math.round(fraction * width)).padEnd(width, ".");
    const who = p.downloader === "other" ? " (another container downloads)" : "";
    const sizes = p.totalBytes ? ` ${formatBytes(p.bytes)}/${formatBytes(p.totalBytes)}` : "";
    const speed = p.phase === "downloading" && rate > 0 ? ` ${formatBytes(rate)}/s` : "";
    process.stderr.write(
      `\r\x1b[2K${p.phase.padEnd(11)} [${bar}] ${Math.floor(fraction * 100)}%${sizes}${speed}${who}`,
    );
  };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (process.stderr.isTTY) process.stderr.write("\n");
    const known =
      error instanceof ModelStoreError ||
      error instanceof ConfigError ||
      error instanceof Interrupted;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      `pull: ${known ? "" : "unexpected error: "}${message.replace(/:\s*\n\s*/g, ": ").replace(/\s*\n\s*/g, "; ")}\n`,
    );
    process.exit(error instanceof Interrupted ? 130 : 1);
  },
);
