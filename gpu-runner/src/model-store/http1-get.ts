import { isIP, connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

/** A response whose headers have arrived; its body is read with `read`. */
export interface Http1Response {
  status: number;
  /** Header names in lower case (repeated headers joined with ", "). */
  headers: Map<string, string>;
  /**
   * Delivers the body to `onData` as views into a reused buffer, valid only during the call;
   * returning false pauses the socket until `resume()`. Resolves when the body is complete.
   * With `into`, a body of known length is read straight into the buffers it returns (asked
   * before each socket read; the view passed to `onData` then lies at the start of the last one).
   */
  read(onData: (view: Buffer) => boolean, into?: () => Buffer): Promise<void>;
  resume(): void;
  /** Stops the transfer; `read` rejects with `error`. */
  destroy(error?: Error): void;
}

export interface Http1GetOptions {
  headers: Record<string, string>;
  signal: AbortSignal;
  /** No bytes (headers or body) for this long → the request fails with `onIdle`'s error. */
  idleMs: number;
  onIdle: () => Error;
}

const READ_BYTES = 1 << 20;
const HEAD_READ_BYTES = 64 << 10;
const MAX_HEADER_BYTES = 64 << 10;

/**
 * One `GET` over its own HTTP/1.1 connection (`Connection: close`), TCP or TLS, reading the socket
 * into one reused megabyte (`onread`) instead of a new buffer per read, or straight into the
 * caller's buffers (`read`'s `into`). `node:http` and `fetch`
 * allocate and wrap every 64 KiB the socket yields: for a multi-gigabyte body that costs several
 * times the CPU of the transfer itself (~10× measured on loopback), and the download shares the
 * machine with everything else. Bodies framed by Content-Length, chunked encoding or the close.
 */
export function http1Get(url: URL, o: Http1GetOptions): Promise<Http1Response> {
  o.signal.throwIfAborted();
  return new Promise((resolveHead, rejectHead) => {
    const secure = url.protocol === "https:";
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const port = Number(url.port) || (secure ? 443 : 80);
    // The headers (and the first body bytes after them) land in a small buffer; the body in the
    // caller's buffers or, without them, in one reused megabyte.
    const headBuffer = Buffer.allocUnsafe(HEAD_READ_BYTES);
    let head: Buffer | undefined = Buffer.alloc(0);
    let response: Answer | undefined;
    let failed: Error | undefined;
    const onread = {
      // Asked for before each socket read (net's `onread` takes a function as well as a buffer).
      buffer: () => response?.nextReadBuffer() ?? headBuffer,
      callback: (n: number, buffer: Buffer) => received(buffer.subarray(0, n)),
    };
    const socket: Socket = secure
      ? tlsConnect({
          host,
          port,
          ...(isIP(host) ? {} : { servername: host }),
          ALPNProtocols: ["http/1.1"],
          // Node's TLS socket honours onread like net's (its types do not list it).
          ...({ onread } as object),
        })
      : netConnect({ host, port, onread });
    const idle = setTimeout(() => fail(o.onIdle()), o.idleMs);
    const onAbort = () => fail(o.signal.reason);
    o.signal.addEventListener("abort", onAbort, { once: true });
    const cleanUp = () => {
      clearTimeout(idle);
      o.signal.removeEventListener("abort", onAbort);
    };
    const fail = (error: Error) => {
      failed ??= error;
      cleanUp();
      socket.destroy();
      if (response) response.fail(failed);
      else rejectHead(failed);
    };
    socket.on("error", fail);
    socket.on("end", () => {
      if (response?.ended()) return;
      fail(new Error("the connection closed before the response was complete"));
    });
    socket.on("close", cleanUp);
    const path = `${url.pathname}${url.search}`;
    const lines = Object.entries({ Host: url.host, Connection: "close", ...o.headers });
    socket.write(`GET ${path} HTTP/1.1\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`);

    function received(view: Buffer): boolean {
      idle.refresh();
      if (failed) return false;
      if (response) return response.feed(view);
      head = Buffer.concat([head as Buffer, view]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > MAX_HEADER_BYTES) fail(new Error("response headers too large"));
        return true;
      }
      let parsed: { status: number; headers: Map<string, string> };
      try {
        parsed = parseHead(head.subarray(0, end).toString("latin1"));
      } catch (error) {
        fail(error as Error);
        return false;
      }
      const early = Buffer.from(head.subarray(end + 4));
      head = undefined;
      response = new Answer(parsed, { socket, early, finish: cleanUp });
      resolveHead(response);
      return false; // paused until the body is read
    }
  });
}

class Answer implements Http1Response {
  readonly status: number;
  readonly headers: Map<string, string>;
  private readonly socket: Socket;
  private early: Buffer | undefined;
  private readonly finish: () => void;
  private readonly body: BodyFraming;
  private onData: ((view: Buffer) => boolean) | undefined;
  private into: (() => Buffer) | undefined;
  private ownBuffer: Buffer | undefined;
  private settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private done = false;
  private error: Error | undefined;

  constructor(
    head: { status: number; headers: Map<string, string> },
    s: { socket: Socket; early: Buffer; finish: () => void },
  ) {
    this.status = head.status;
    this.headers = head.headers;
    this.socket = s.socket;
    this.early = s.early;
    this.finish = s.finish;
    this.body = framing(head.status, head.headers);
  }

  read(onData: (view: Buffer) => boolean, into?: () => Buffer): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    this.onData = onData;
    if (into && this.body.kind === "length") this.into = into;
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
      const early = this.early;
      this.early = undefined;
      if (early && early.length > 0 && !this.feed(early)) return;
      if (this.done) return;
      if (this.body.kind === "none") return this.complete();
      this.socket.resume();
    });
  }

  /** Where the next socket read lands: never past the body, so its bytes are the body's. */
  nextReadBuffer(): Buffer | undefined {
    if (this.done || this.error || !this.onData) return undefined;
    const left = this.body.left();
    if (this.into) {
      const target = this.into();
      if (target.length > 0) return target.length > left ? target.subarray(0, left) : target;
    }
    this.ownBuffer ??= Buffer.allocUnsafe(READ_BYTES);
    return this.ownBuffer;
  }

  resume(): void {
    if (!this.done && !this.error) this.socket.resume();
  }

  destroy(error = new Error("the transfer was stopped")): void {
    this.fail(error);
    this.socket.destroy();
  }

  /** The connection ended: complete for a body delimited by the close. */
  ended(): boolean {
    if (this.done) return true;
    if (this.body.kind !== "close" || !this.onData) return false;
    this.complete();
    return true;
  }

  fail(error: Error): void {
    if (this.done || this.error) return;
    this.error = error;
    this.settle?.reject(error);
  }

  /** Bytes after the headers: passes the body's bytes on; false pauses the socket. */
  feed(view: Buffer): boolean {
    if (this.done || this.error) return false;
    if (!this.onData) {
      // Arrived before `read`: kept (the view is reused by the next read).
      this.early = Buffer.concat([this.early ?? Buffer.alloc(0), view]);
      return false;
    }
    let keepGoing = true;
    const deliver = (data: Buffer) => {
      if (data.length > 0 && !this.onData?.(data)) keepGoing = false;
    };
    try {
      if (this.body.feed(view, deliver)) this.complete();
    } catch (error) {
      this.destroy(error as Error);
      return false;
    }
    return keepGoing && !this.done && !this.error;
  }

  private complete(): void {
    if (this.done || this.error) return;
    this.done = true;
    this.finish();
    this.socket.destroy();
    this.settle?.resolve();
  }
}

function parseHead(text: string): { status: number; headers: Map<string, string> } {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw new Error(`not an HTTP/1.1 response: ${statusLine.slice(0, 80)}`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const seen = headers.get(name);
    headers.set(name, seen === undefined ? value : `${seen}, ${value}`);
  }
  return { status: Number(m[1]), headers };
}

/** How the body ends; `feed` passes data on and returns true once the body is complete. */
interface BodyFraming {
  kind: "none" | "length" | "chunked" | "close";
  feed(view: Buffer, deliver: (data: Buffer) => void): boolean;
  /** Body bytes still to come (Infinity when the framing does not tell). */
  left(): number;
}

function framing(status: number, headers: Map<string, string>): BodyFraming {
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
    return NO_BODY;
  }
  if (/(^|,)\s*chunked\s*$/i.test(headers.get("transfer-encoding") ?? "")) return chunked();
  const length = headers.get("content-length");
  if (length !== undefined) {
    if (!/^\d+$/.test(length)) throw new Error(`bad Content-Length: ${length}`);
    let left = Number(length);
    if (left === 0) return NO_BODY;
    return {
      kind: "length",
      left: () => left,
      feed(view, deliver) {
        const take = Math.min(left, view.length);
        left -= take;
        deliver(view.subarray(0, take));
        return left === 0;
      },
    };
  }
  return {
    kind: "close",
    left: () => Number.POSITIVE_INFINITY,
    feed(view, deliver) {
      deliver(view);
      return false;
    },
  };
}

const NO_BODY: BodyFraming = { kind: "none", feed: () => true, left: () => 0 };

/** Chunked transfer encoding: hex size line, data, CRLF; a zero size, trailers, an empty line. */
function chunked(): BodyFraming {
  let state: "size" | "data" | "data-end" | "trailer" = "size";
  let line = "";
  let left = 0;
  return {
    kind: "chunked",
    left: () => Number.POSITIVE_INFINITY,
    feed(view, deliver) {
      let i = 0;
      while (i < view.length) {
        if (state === "data") {
          const take = Math.min(left, view.length - i);
          deliver(view.subarray(i, i + take));
          i += take;
          left -= take;
          if (left === 0) state = "data-end";
          continue;
        }
        const nl = view.indexOf(10, i);
        const end = nl < 0 ? view.length : nl + 1;
        line += view.toString("latin1", i, end);
        i = end;
        if (line.length > 4096) throw new Error("malformed chunked body");
        if (nl < 0) continue;
        const text = line.trim();
        line = "";
        if (state === "data-end") {
          if (text !== "") throw new Error("malformed chunked body");
          state = "size";
        } else if (state === "size") {
          const size = Number.parseInt(text.split(";")[0] ?? "", 16);
          if (!Number.isSafeInteger(size) || size < 0) throw new Error("malformed chunked body");
          if (size === 0) state = "trailer";
          else {
            left = size;
            state = "data";
          }
        } else if (text === "") {
          return true; // the empty line after the trailers
        }
      }
      return false;
    },
  };
}
