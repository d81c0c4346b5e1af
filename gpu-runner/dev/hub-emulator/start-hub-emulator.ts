import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** One repo the emulator serves: repo files map their path in the repo to a local file. */
export interface EmulatedRepo {
  repo: string;
  files: Record<string, string>;
  /** Branch name, default `main`. */
  revision?: string;
  /** Gated: the hub answers 401 without a token and 403 with a wrong one (`X-Error-Code: GatedRepo`). */
  gated?: boolean;
  /**
   * Xet-backed, like most GGUFs on the real Hub: a probe that accepts
   * `application/vnd.xet-fileinfo+json` gets the Xet file info instead of a redirect. The bytes are
   * still served over the plain resolve → 302 → CDN route (the Hub's bridge), which is the route
   * `@huggingface/hub` takes with `xet: false`.
   */
  xet?: boolean;
}

/** A fault that fires on the next `times` body responses (unlimited when `times` is absent). */
interface Counted {
  times?: number;
}

/** Faults, settable per test; they apply to file bodies from the CDN unless said otherwise. */
export interface HubFaults {
  /**
   * Bytes per second for each body response, i.e. per connection: as a CDN caps each connection,
   * several ranged requests at once get this rate each.
   */
  throttle?: number;
  /**
   * Bytes per second for all body responses together, as over a thin link: more connections at
   * once do not go faster.
   */
  linkThrottle?: number;
  /** Milliseconds before each answer (hub and CDN), as from a far server. */
  latency?: number;
  /** Close the connection after this many body bytes. */
  drop?: Counted & { afterBytes: number };
  /** Stop sending (socket stays open) after this many body bytes. */
  stall?: Counted & { afterBytes: number };
  /** Answer with this status (default 503) on the given host, `times` times. */
  serverError?: Counted & { status?: number; on?: "hub" | "cdn" };
  /** Serve bytes that do not match the advertised sha256 (one byte flipped in every chunk). */
  corrupt?: boolean;
  /** Advertise this size in paths-info and the resolve headers instead of the real one. */
  advertisedSize?: number;
  /**
   * API routes answered with a bare 404 (no `X-Error-Code`), as by a Hub (or mirror) that does
   * not have them: clients must then get by with what `resolve` tells (what Python's client uses).
   */
  unsupported?: ("revision" | "paths-info")[];
}

export interface LoggedRequest {
  method: string;
  path: string;
  range?: string;
  host: "hub" | "cdn";
  status: number;
  /** Body bytes written (file bytes for the CDN). */
  bytes: number;
  authorized: boolean;
  /** When the request arrived and when its response closed (`performance.now()`). */
  startedAt: number;
  endedAt: number;
}

export interface HubEmulator {
  /** Hub base URL (`http://localhost:<port>`); pass as `HF_ENDPOINT`. */
  url: string;
  /** The CDN, on another hostname (`http://127.0.0.1:<port>`), as on the real Hub. */
  cdnUrl: string;
  requests: LoggedRequest[];
  commitOf(repo: string): string;
  sha256Of(repo: string, file: string): Promise<string>;
  /** Replace the active faults (counters restart). */
  setFaults(faults: HubFaults): void;
  close(): Promise<void>;
}

export interface HubEmulatorOptions {
  repos: EmulatedRepo[];
  faults?: HubFaults;
  port?: number;
  /** The token that opens gated repos (`hf_…`). */
  token?: string;
}

interface FileEntry {
  path: string;
  local: string;
  size: number;
  sha256: string;
  gitOid: string;
}

interface RepoEntry {
  spec: EmulatedRepo;
  branch: string;
  commit: string;
  files: Map<string, FileEntry>;
}

/**
 * A local Hugging Face Hub that speaks the HTTP protocol `@huggingface/hub` and `huggingface_hub`
 * use for downloads: revision info, paths-info, resolve with a 302 to a CDN on another hostname,
 * Range/206/416, and the Hub's error headers (`X-Error-Code`, `X-Error-Message`).
 */
export async function startHubEmulator(options: HubEmulatorOptions): Promise<HubEmulator> {
  const repos = new Map<string, RepoEntry>();
  const byBlob = new Map<string, FileEntry>();
  for (const spec of options.repos) {
    const files = new Map<string, FileEntry>();
    for (const [path, local] of Object.entries(spec.files)) {
      const entry = await describeFile(path, local);
      files.set(path, entry);
      byBlob.set(entry.sha256, entry);
    }
    const commit = createHash("sha1")
      .update(`${spec.repo}\n${[...files.values()].map((f) => `${f.path}:${f.sha256}`).join("\n")}`)
      .digest("hex");
    repos.set(spec.repo, { spec, branch: spec.revision ?? "main", commit, files });
  }

  let faults: HubFaults = { ...options.faults };
  const counters = new Map<string, number>();
  /** True when a counted fault should fire now (and counts it). */
  const fire = (name: string, fault: Counted | undefined): boolean => {
    if (!fault) return false;
    const used = counters.get(name) ?? 0;
    if (fault.times !== undefined && used >= fault.times) return false;
    counters.set(name, used + 1);
    return true;
  };

  /** What the shared link has sent since `at` (at `rate`). */
  let link = { at: 0, sent: 0, rate: 0 };
  const linkWait = (bytes: number): number => {
    const rate = faults.linkThrottle;
    if (!rate) return 0;
    const now = Date.now();
    // A new rate, or a link idle for a while, starts a new schedule.
    if (rate !== link.rate || link.at + (link.sent / rate) * 1000 < now - 100)
      link = { at: now, sent: 0, rate };
    link.sent += bytes;
    return link.at + (link.sent / rate) * 1000 - now;
  };

  const requests: LoggedRequest[] = [];
  const sockets = new Set<Socket>();
  let cdnUrl = "";

  const log = (
    req: IncomingMessage,
    res: ServerResponse,
    host: "hub" | "cdn",
    bytes: () => number,
  ) => {
    const startedAt = performance.now();
    res.on("close", () => {
      const url = new URL(req.url ?? "/", "http://x");
      requests.push({
        method: req.method ?? "GET",
        path: decodeURIComponent(url.pathname),
        ...(req.headers.range ? { range: req.headers.range } : {}),
        host,
        status: res.statusCode,
        bytes: bytes(),
        authorized: Boolean(req.headers.authorization),
        startedAt,
        endedAt: performance.now(),
      });
    });
  };

  /** Runs `handle` after the emulated latency, if any. */
  const delayed =
    (handle: (req: IncomingMessage, res: ServerResponse) => void) =>
    (req: IncomingMessage, res: ServerResponse) => {
      if (faults.latency) setTimeout(() => handle(req, res), faults.latency);
      else handle(req, res);
    };

  const hub = createServer(
    delayed((req, res) => {
      log(req, res, "hub", () => 0);
      if (faults.serverError?.on !== "cdn" && fire("serverError", faults.serverError)) {
        return hubError(res, faults.serverError?.status ?? 503, "ServerError", "emulated outage");
      }
      void handleHub(req, res).catch((error: unknown) => {
        if (!res.headersSent) hubError(res, 500, "InternalError", String(error));
        else res.destroy();
      });
    }),
  );

  async function handleHub(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const parts = url.pathname.split("/").slice(1).map(decodeURIComponent);
    // /api/models/{owner}/{name}/revision/{rev} and /api/models/{owner}/{name}/paths-info/{rev}
    if (parts[0] === "api" && parts[1] === "models" && parts.length >= 4) {
      const repo = repoOf(res, req, `${parts[2]}/${parts[3]}`);
      if (!repo) return;
      const action = parts[4];
      const rev = parts.slice(5).join("/") || "HEAD";
      if (faults.unsupported?.includes(action === "paths-info" ? "paths-info" : "revision")) {
        return hubError(res, 404, undefined, "Sorry, we can't find the page you are looking for.");
      }
      if (action === undefined || action === "revision") {
        if (!revisionOk(res, repo, rev)) return;
        return json(res, 200, {
          _id: repo.commit.slice(0, 24),
          id: repo.spec.repo,
          sha: repo.commit,
          private: false,
          gated: repo.spec.gated ? "manual" : false,
          downloads: 0,
          likes: 0,
          lastModified: new Date(0).toISOString(),
          pipeline_tag: "text-generation",
          siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
        });
      }
      if (action === "paths-info" && req.method === "POST") {
        if (!revisionOk(res, repo, rev)) return;
        const body = JSON.parse((await readBody(req)) || "{}") as { paths?: string[] };
        const found = (body.paths ?? []).flatMap((p) => {
          const f = repo.files.get(p);
          if (!f) return [];
          const size = faults.advertisedSize ?? f.size;
          return [
            {
              type: "file",
              oid: f.gitOid,
              size,
              path: f.path,
              lfs: { oid: f.sha256, size, pointerSize: 134 },
              lastCommit: {
                id: repo.commit,
                title: "emulated commit",
                date: new Date(0).toISOString(),
              },
              securityFileStatus: { status: "safe" },
            },
          ];
        });
        return json(res, 200, found);
      }
      return hubError(res, 404, undefined, "Sorry, we can't find the page you are looking for.");
    }
    // /{owner}/{name}/resolve/{rev}/{path...}
    if (parts[2] === "resolve" && parts.length >= 5) {
      const repo = repoOf(res, req, `${parts[0]}/${parts[1]}`);
      if (!repo) return;
      const rev = parts[3] ?? "";
      if (!revisionOk(res, repo, rev)) return;
      const filePath = parts.slice(4).join("/");
      const file = repo.files.get(filePath);
      if (!file)
        return hubError(res, 404, "EntryNotFound", `${filePath} does not exist on "${rev}"`);
      const size = faults.advertisedSize ?? file.size;
      const common = {
        "X-Repo-Commit": repo.commit,
        "X-Linked-Etag": `"${file.sha256}"`,
        "X-Linked-Size": String(size),
        ETag: `"${file.gitOid}"`,
      };
      if (repo.spec.xet && req.headers.accept?.includes("application/vnd.xet-fileinfo+json")) {
        const hash = createHash("sha256").update(`xet:${file.sha256}`).digest("hex");
        res.writeHead(200, {
          ...common,
          "Content-Type": "application/vnd.xet-fileinfo+json",
          "X-Xet-Hash": hash,
          Link: `<${cdnUrl}/xet/reconstruction/${hash}>; rel="xet-reconstruction-info", <${cdnUrl}/xet/token>; rel="xet-auth"`,
        });
        return void res.end(JSON.stringify({ hash, refreshUrl: `${cdnUrl}/xet/token` }));
      }
      res.writeHead(302, {
        ...common,
        Location: `${cdnUrl}/blobs/${file.sha256}?X-Signature=emulated&filename=${encodeURIComponent(filePath)}`,
        "Content-Length": "0",
      });
      return void res.end();
    }
    hubError(res, 404, undefined, "Sorry, we can't find the page you are looking for.");
  }

  /** Repo lookup with the Hub's auth rules: anonymous → 401, authenticated → 404 for missing repos. */
  function repoOf(res: ServerResponse, req: IncomingMessage, name: string): RepoEntry | undefined {
    const auth = req.headers.authorization;
    const repo = repos.get(name);
    if (!repo) {
      hubError(res, auth ? 404 : 401, "RepoNotFound", "Repository not found");
      return undefined;
    }
    if (repo.spec.gated) {
      if (!auth) {
        hubError(
          res,
          401,
          "GatedRepo",
          `Access to model ${name} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
        );
        return undefined;
      }
      if (auth !== `Bearer ${options.token}`) {
        hubError(
          res,
          403,
          "GatedRepo",
          `Access to model ${name} is restricted and you are not in the authorized list. Visit https://huggingface.co/${name} to ask for access.`,
        );
        return undefined;
      }
    }
    return repo;
  }

  function revisionOk(res: ServerResponse, repo: RepoEntry, rev: string): boolean {
    if (rev === "HEAD" || rev === repo.branch || rev === repo.commit) return true;
    hubError(res, 404, "RevisionNotFound", `Invalid rev id: ${rev}`);
    return false;
  }

  const cdn = createServer(
    delayed((req, res) => {
      let sent = 0;
      log(req, res, "cdn", () => sent);
      const url = new URL(req.url ?? "/", "http://x");
      const match = /^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname);
      const file = match?.[1] ? byBlob.get(match[1]) : undefined;
      if (!file) {
        res.writeHead(404, { "Content-Type": "application/xml" });
        return void res.end("<Error><Code>NoSuchKey</Code></Error>");
      }
      const range = parseRange(req.headers.range, file.size);
      if (range === "unsatisfiable") {
        res.writeHead(416, { "Content-Range": `bytes */${file.size}` });
        return void res.end();
      }
      const isProbe = range !== undefined && range.end - range.start < 1;
      if (!isProbe && faults.serverError?.on === "cdn" && fire("serverError", faults.serverError)) {
        res.writeHead(faults.serverError.status ?? 503, { "Content-Type": "application/xml" });
        return void res.end("<Error><Code>ServiceUnavailable</Code></Error>");
      }
      const start = range?.start ?? 0;
      const end = range?.end ?? file.size - 1;
      res.writeHead(range ? 206 : 200, {
        "Content-Type": "application/octet-stream",
        "Content-Length": String(end - start + 1),
        "Accept-Ranges": "bytes",
        ETag: `"${file.sha256}"`,
        ...(range ? { "Content-Range": `bytes ${start}-${end}/${file.size}` } : {}),
      });
      if (req.method === "HEAD") return void res.end();
      const drop = !isProbe && fire("drop", faults.drop) ? faults.drop?.afterBytes : undefined;
      const stall = !isProbe && fire("stall", faults.stall) ? faults.stall?.afterBytes : undefined;
      void streamBody(res, file.local, {
        start,
        end,
        // Read on every chunk, so a test can slow a download down or speed it up while it runs.
        throttle: () => (isProbe ? undefined : faults.throttle),
        linked: !isProbe && Boolean(faults.linkThrottle),
        linkWait: (n) => (isProbe ? 0 : linkWait(n)),
        corrupt: !isProbe && Boolean(faults.corrupt),
        drop,
        stall,
        onBytes: (n) => {
          sent += n;
        },
      });
    }),
  );

  for (const server of [hub, cdn]) {
    server.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
  }
  const hubPort = await listen(hub, options.port ?? 0);
  const cdnPort = await listen(cdn, 0);
  cdnUrl = `http://127.0.0.1:${cdnPort}`;

  return {
    url: `http://localhost:${hubPort}`,
    cdnUrl,
    requests,
    commitOf(repo) {
      const entry = repos.get(repo);
      if (!entry) throw new Error(`the emulator does not serve ${repo}`);
      return entry.commit;
    },
    async sha256Of(repo, file) {
      const entry = repos.get(repo)?.files.get(file);
      if (!entry) throw new Error(`the emulator does not serve ${repo}/${file}`);
      return entry.sha256;
    },
    setFaults(next) {
      faults = { ...next };
      counters.clear();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([hub, cdn].map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}

async function describeFile(path: string, local: string): Promise<FileEntry> {
  const { size } = await stat(local);
  const sha256 = createHash("sha256");
  const git = createHash("sha1").update(`blob ${size}\0`);
  for await (const chunk of createReadStream(local)) {
    sha256.update(chunk as Buffer);
    git.update(chunk as Buffer);
  }
  return { path, local, size, sha256: sha256.digest("hex"), gitOid: git.digest("hex") };
}

/** Parses a single `bytes=a-b` / `bytes=a-` / `bytes=-n` range; undefined means the whole file. */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m) return undefined;
  const [, a = "", b = ""] = m;
  if (a === "" && b === "") return undefined;
  let start: number;
  let end: number;
  if (a === "") {
    start = Math.max(0, size - Number(b));
    end = size - 1;
  } else {
    start = Number(a);
    end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}

interface BodyOptions {
  start: number;
  end: number;
  throttle: () => number | undefined;
  /** The body goes over the shared link (`linkThrottle`). */
  linked: boolean;
  /** How long to wait after sending `n` bytes over the shared link. */
  linkWait: (n: number) => number;
  corrupt: boolean;
  drop?: number;
  stall?: number;
  onBytes: (n: number) => void;
}

async function streamBody(res: ServerResponse, local: string, o: BodyOptions): Promise<void> {
  let closed = false;
  res.on("close", () => {
    closed = true;
  });
  // Small chunks keep throttling smooth and faults exact; big ones let loopback run at full speed.
  const chunkSize =
    o.throttle() || o.linked || o.drop !== undefined || o.stall !== undefined ? 64 * 1024 : 1 << 20;
  let sent = 0;
  let paced = { at: Date.now(), sent: 0, rate: o.throttle() };
  const file = await open(local, "r");
  const pool = bufferPool(chunkSize);
  res.on("close", () => pool.wake());
  try {
    for (let pos = o.start; pos <= o.end; ) {
      const buffer = await pool.take(() => closed);
      if (!buffer) break;
      const { bytesRead } = await file.read(buffer, 0, Math.min(chunkSize, o.end + 1 - pos), pos);
      if (closed || bytesRead === 0) {
        pool.give(buffer);
        break;
      }
      pos += bytesRead;
      let chunk = buffer.subarray(0, bytesRead);
      const limit = Math.min(
        o.drop ?? Number.POSITIVE_INFINITY,
        o.stall ?? Number.POSITIVE_INFINITY,
      );
      if (sent + chunk.length > limit) chunk = chunk.subarray(0, Math.max(0, limit - sent));
      if (o.corrupt && chunk.length > 0) {
        chunk = Buffer.from(chunk);
        chunk[0] = (chunk[0] ?? 0) ^ 0xff;
      }
      if (chunk.length > 0) {
        sent += chunk.length;
        o.onBytes(chunk.length);
        // The buffer is read into again once the socket has taken these bytes.
        if (!res.write(chunk, () => pool.give(buffer))) await drained(res);
      } else pool.give(buffer);
      if (o.drop !== undefined && sent >= o.drop) {
        // Let the bytes reach the client before the connection dies, like a real reset mid-body.
        await new Promise((r) => res.socket?.write("", r) ?? r(undefined));
        res.socket?.destroy();
        return;
      }
      if (o.stall !== undefined && sent >= o.stall) return; // keep the socket open, send nothing
      const rate = o.throttle();
      if (rate !== paced.rate) paced = { at: Date.now(), sent, rate };
      if (rate) {
        const wait = paced.at + ((sent - paced.sent) / rate) * 1000 - Date.now();
        if (wait > 0) await sleep(wait);
      }
      const linkWait = o.linkWait(chunk.length);
      if (linkWait > 0) await sleep(linkWait);
    }
    if (!closed) res.end();
  } catch {
    res.destroy();
  } finally {
    await file.close();
  }
}

/** Read buffers of one size, shared by every response and reused once the socket took them. */
const pools = new Map<number, Buffer[]>();
/** Buffers one response may have read and not yet sent. */
const BUFFERS_PER_RESPONSE = 3;

/**
 * A response's share of the read buffers. A CDN costs the client's machine no CPU; the emulator
 * shares it, and a fresh megabyte per read (as `createReadStream` allocates) cost page faults
 * on every read (~60 ms of CPU per 256 MiB here).
 */
function bufferPool(size: number) {
  const free = pools.get(size) ?? [];
  pools.set(size, free);
  let out = 0;
  let waiter: (() => void) | undefined;
  const wake = () => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  return {
    wake,
    /** A buffer to read into, once fewer than BUFFERS_PER_RESPONSE are out; undefined when `stop()`. */
    async take(stop: () => boolean): Promise<Buffer | undefined> {
      while (out >= BUFFERS_PER_RESPONSE && !stop())
        await new Promise<void>((resolve) => {
          waiter = resolve;
        });
      if (stop()) return undefined;
      out++;
      return free.pop() ?? Buffer.allocUnsafeSlow(size);
    },
    give(buffer: Buffer): void {
      out--;
      free.push(buffer);
      wake();
    },
  };
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

function hubError(
  res: ServerResponse,
  status: number,
  code: string | undefined,
  message: string,
): void {
  res.writeHead(status, {
    "Content-Type": "application/json",
    "X-Error-Message": message,
    ...(code ? { "X-Error-Code": code } : {}),
  });
  res.end(JSON.stringify({ error: message }));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}
