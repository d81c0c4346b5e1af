/**
 * Cold-start download throughput: `ensureModel` (lock, download, sha256, fsync, rename, link) into
 * a temp volume, against `curl` fetching the same file from the same local Hub emulator; then the
 * same against an emulator that caps each connection's rate (as CDNs do), where the runner's
 * ranged connections at once are compared with connections × cap.
 * `npx tsx bench/download.ts` prints the figures as JSON.
 */
import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { modelSource, parseEnv } from "../gpu-runner/src/env";
import { ensureModel } from "../gpu-runner/src/model-store/ensure-model";
import { median } from "./bench-model";
import { type Figure, figure, isMain } from "./figure";

const SIZE = 256 * 2 ** 20;
const RUNS = 3;
/** The capped emulator's rate per connection. */
const CAP = 24 * 2 ** 20;
const REPO = "bench/download-GGUF";
const FILE = "model.gguf";

export default async function downloadBench(): Promise<Figure[]> {
  const dir = await mkdtemp(join(tmpdir(), "bench-download-"));
  try {
    const source = join(dir, "source.gguf");
    await writeRandom(source, SIZE);
    // The emulator runs in its own process, like a remote Hub: sharing our event loop would
    // slow down the side being measured but not curl.
    const hub = await startEmulatorProcess(source);
    const modelAt = (volume: string, url: string) =>
      modelSource(
        parseEnv({
          RUNNER_INSECURE: "1",
          MODEL_REPO: REPO,
          MODEL_FILE: FILE,
          MODEL_CACHE_DIR: volume,
          HF_ENDPOINT: url,
        }),
      );
    const { connections } = modelAt(dir, hub.url);
    try {
      const url = `${hub.url}/${REPO}/resolve/main/${FILE}`;
      const curl = await hasCurl();
      const ours: number[] = [];
      const base: number[] = [];
      const durable: number[] = [];
      const ourCpu: number[] = [];
      const curlCpu: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const volume = join(dir, `volume-${i}`);
        const cpuBefore = process.cpuUsage();
        ours.push(await timed(() => ensureModel(modelAt(volume, hub.url))));
        ourCpu.push(cpuMs(process.cpuUsage(cpuBefore)));
        await rm(volume, { recursive: true, force: true });
        const out = join(dir, `curl-${i}.gguf`);
        const get = () => (curl ? curlTo(url, out) : fetchTo(url, out));
        base.push(await timed(get));
        await rm(out, { force: true });
        if (curl) {
          curlCpu.push(await curlCpuMs(url, out));
          await rm(out, { force: true });
        }
        // The same, made as durable as ours before it is trusted: the bytes flushed to disk.
        durable.push(
          await timed(async () => {
            await get();
            await fsyncFile(out);
          }),
        );
        await rm(out, { force: true });
      }
      const capped = await startEmulatorProcess(source, CAP);
      const parallel: number[] = [];
      try {
        for (let i = 0; i < RUNS; i++) {
          const volume = join(dir, `capped-${i}`);
          parallel.push(await timed(() => ensureModel(modelAt(volume, capped.url))));
          await rm(volume, { recursive: true, force: true });
        }
      } finally {
        capped.close();
      }
      const mbps = (ms: number) => SIZE / 2 ** 20 / (ms / 1000);
      const hashMs = sha256Ms(await readFile(source));
      const cpu = curl
        ? [
            figure({
              id: "download.cpu",
              title: "CPU time to download the file (ensureModel's process)",
              value: median(ourCpu),
              unit: "ms",
              baseline: { title: "curl's CPU time, same file", value: median(curlCpu) },
              higherIsBetter: false,
              note: `user + system, median of ${RUNS}; sha256 of the same ${SIZE / 2 ** 20} MiB in memory alone takes ${hashMs.toFixed(0)} ms of CPU here, which curl does not pay. The emulator sends on one core and the download gets the other, so over loopback its rate follows its CPU time: a gap to curl no larger than the hash is the verification's cost, not the download's`,
            }),
          ]
        : [];
      return [
        figure({
          id: "download.throughput",
          title: "Model download into the volume (ensureModel)",
          value: mbps(median(ours)),
          unit: "MiB/s",
          baseline: {
            title: curl ? "curl -L, same file, same emulator" : "Node fetch → file",
            value: mbps(median(base)),
          },
          higherIsBetter: true,
          note: `${SIZE / 2 ** 20} MiB over loopback, median of ${RUNS}; ours also locks, hashes (sha256), fsyncs and links${curl ? "" : "; curl was not installed, so the baseline is Node fetch piped to a file"}`,
        }),
        figure({
          id: "download.throughput-durable",
          title: "Model download into the volume vs a download flushed to disk",
          value: mbps(median(ours)),
          unit: "MiB/s",
          baseline: {
            title: curl
              ? "curl -L then fsync, same file, same emulator"
              : "Node fetch → file, then fsync",
            value: mbps(median(durable)),
          },
          higherIsBetter: true,
          note: "both sides pay for putting the bytes on disk; ours also hashes and locks",
        }),
        figure({
          id: "download.parallel-capped",
          title: `Model download, up to ${connections} ranged connections, each capped at ${CAP / 2 ** 20} MiB/s`,
          value: mbps(median(parallel)),
          unit: "MiB/s",
          baseline: {
            title: `${connections} × the per-connection cap`,
            value: (connections * CAP) / 2 ** 20,
          },
          higherIsBetter: true,
          note: `the emulator paces each connection to ${CAP / 2 ** 20} MiB/s; MODEL_DOWNLOAD_CONNECTIONS=${connections} (the default); median of ${RUNS}`,
        }),
        ...cpu,
      ];
    } finally {
      hub.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function startEmulatorProcess(
  source: string,
  capPerConnection?: number,
): Promise<{ url: string; close(): void }> {
  const cli = fileURLToPath(new URL("../gpu-runner/dev/hub-emulator/cli.ts", import.meta.url));
  const cap = capPerConnection ? ["--throttle", String(capPerConnection)] : [];
  const child = spawn(
    process.execPath,
    ["--import", "tsx", cli, "--repo", REPO, "--file", source, "--as", FILE, ...cap],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")));
    });
    child.once("exit", (code) => reject(new Error(`hub emulator exited (${code})`)));
  });
  const { url } = JSON.parse(line) as { url: string };
  return { url, close: () => child.kill() };
}

async function writeRandom(path: string, size: number): Promise<void> {
  const chunk = 4 * 2 ** 20;
  async function* chunks() {
    for (let left = size; left > 0; left -= chunk) yield randomBytes(Math.min(chunk, left));
  }
  await pipeline(Readable.from(chunks()), createWriteStream(path));
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const run = promisify(execFile);

async function hasCurl(): Promise<boolean> {
  return run("curl", ["--version"]).then(
    () => true,
    () => false,
  );
}

async function curlTo(url: string, out: string): Promise<void> {
  await run("curl", ["-sSfL", "-o", out, url]);
}

/** curl's own user + system CPU time (bash's `times` reports its finished children's). */
async function curlCpuMs(url: string, out: string): Promise<number> {
  const { stdout } = await run("bash", [
    "-c",
    'curl -sSfL -o "$1" "$2" && times',
    "bash",
    out,
    url,
  ]);
  const children = stdout.trim().split("\n").at(-1) ?? "";
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map(
    ([, m, s]) => Number(m) * 60 + Number(s),
  );
  const [user, system] = seconds;
  if (seconds.length !== 2 || user === undefined || system === undefined) {
    throw new Error(`unexpected \`times\` output: ${stdout}`);
  }
  return (user + system) * 1000;
}

function cpuMs({ user, system }: NodeJS.CpuUsage): number {
  return (user + system) / 1000;
}

/** CPU time of sha256 over bytes already in memory (median of 3): the verification's floor. */
function sha256Ms(bytes: Buffer): number {
  const runs = Array.from({ length: 3 }, () => {
    const before = process.cpuUsage();
    createHash("sha256").update(bytes).digest();
    return cpuMs(process.cpuUsage(before));
  });
  return median(runs);
}

async function fetchTo(url: string, out: string): Promise<void> {
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status} from ${url}`);
  await pipeline(Readable.fromWeb(response.body), createWriteStream(out));
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

if (isMain(import.meta)) {
  console.log(JSON.stringify(await downloadBench(), null, 2));
}
