import { randomBytes } from "node:crypto";
import { createServer as createHttpServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer as createNetServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { http1Get } from "./http1-get";

const servers: { close(): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<URL> {
  servers.push({
    close: () => {
      server.close();
      if ("closeAllConnections" in server) server.closeAllConnections();
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/file?x=1`);
}

const http = (handler: RequestListener) => listen(createHttpServer(handler));
/**
 * A server that writes `raw` bytes itself (for framings node:http does not produce). The client
 * may close its end while bytes are still on their way (it stops at the body's end), which
 * resets the server's socket: expected here, so not left as an uncaught ECONNRESET.
 */
const raw = (onSocket: (socket: Socket) => void) =>
  listen(
    createNetServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () => onSocket(socket));
    }),
  );

const options = (extra: Partial<Parameters<typeof http1Get>[1]> = {}) => ({
  headers: {},
  signal: new AbortController().signal,
  idleMs: 5_000,
  onIdle: () => new Error("idle"),
  ...extra,
});

/** Reads the whole body, copying each view (they are reused). */
async function body(url: URL, extra: Partial<Parameters<typeof http1Get>[1]> = {}) {
  const res = await http1Get(url, options(extra));
  const parts: Buffer[] = [];
  await res.read((view) => {
    parts.push(Buffer.from(view));
    return true;
  });
  return { res, bytes: Buffer.concat(parts) };
}

describe("http1Get", () => {
  it("sends the path, query and headers, and reads a Content-Length body exactly", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17); // several socket reads
    let seen: { url?: string; range?: string } = {};
    const url = await http((req, res) => {
      seen = { url: req.url, range: req.headers.range };
      res.writeHead(206, { "Content-Length": data.length, "X-Thing": "a" });
      res.end(data);
    });
    const { res, bytes } = await body(url, { headers: { Range: "bytes=5-" } });
    expect(seen).toEqual({ url: "/file?x=1", range: "bytes=5-" });
    expect(res.status).toBe(206);
    expect(res.headers.get("x-thing")).toBe("a");
    expect(bytes.equals(data)).toBe(true);
  });

  it("reads a Content-Length body straight into the caller's buffers, never past its end", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const url = await raw((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\n\r\n`);
      socket.write(data);
      socket.end("trailing bytes that are not the body's");
    });
    const res = await http1Get(url, options());
    const target = Buffer.alloc(data.length + 100, 0xee);
    let filled = 0;
    let inPlace = 0;
    await res.read(
      (view) => {
        if (view.buffer === target.buffer && view.byteOffset === target.byteOffset + filled)
          inPlace += view.length;
        else view.copy(target, filled); // the bytes that came with the headers
        filled += view.length;
        return true;
      },
      () => target.subarray(filled),
    );
    expect(filled).toBe(data.length);
    expect(target.subarray(0, filled).equals(data)).toBe(true);
    expect(inPlace).toBeGreaterThan(data.length / 2);
    // Nothing was read into the caller's buffer past the body.
    expect(target.subarray(filled).every((b) => b === 0xee)).toBe(true);
  });

  it("decodes a chunked body", async () => {
    const parts = [randomBytes(100_000), randomBytes(1), randomBytes(70_000)];
    const url = await http((_req, res) => {
      for (const p of parts) res.write(p); // no Content-Length: node:http sends chunks
      res.end();
    });
    const { res, bytes } = await body(url);
    expect(res.headers.get("transfer-encoding")).toBe("chunked");
    expect(bytes.equals(Buffer.concat(parts))).toBe(true);
  });

  it("reads a body delimited by the connection's close", async () => {
    const data = randomBytes(200_000);
    const url = await raw((socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n");
      socket.end(data);
    });
    const { bytes } = await body(url);
    expect(bytes.equals(data)).toBe(true);
  });

  it("fails when the connection closes before Content-Length bytes arrived", async () => {
    const url = await raw((socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
      socket.end(Buffer.alloc(400));
    });
    await expect(body(url)).rejects.toThrow(/closed before the response was complete/);
  });

  it("fails with onIdle's error when the body stalls", async () => {
    const url = await raw((socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc"); // then nothing
    });
    await expect(body(url, { idleMs: 200, onIdle: () => new Error("stalled") })).rejects.toThrow(
      "stalled",
    );
  });

  it("rethrows the signal's reason on abort, before or during the body", async () => {
    const url = await raw((socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc");
    });
    const before = new AbortController();
    const reason = new Error("shutting down");
    before.abort(reason);
    await expect(body(url, { signal: before.signal })).rejects.toBe(reason);

    const during = new AbortController();
    const res = await http1Get(url, options({ signal: during.signal }));
    const reading = res.read(() => {
      during.abort(reason);
      return true;
    });
    await expect(reading).rejects.toBe(reason);
  });

  it("answers non-2xx statuses with their headers, without reading the body", async () => {
    const url = await http((_req, res) => {
      res.writeHead(302, { Location: "http://elsewhere/x", "X-Error-Code": "Nope" });
      res.end("redirecting");
    });
    const res = await http1Get(url, options());
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("http://elsewhere/x");
    expect(res.headers.get("x-error-code")).toBe("Nope");
    res.destroy();
  });
});
