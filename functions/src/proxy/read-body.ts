import { EdgeError } from "../http/edge-error";

/**
 * Reads a request body up to `limit` bytes (chat requests are small; holding them lets the
 * edge refuse an oversized one with 413 before the runner sees a byte). Fails fast on a
 * declared `Content-Length` over the limit.
 */
export async function readBody(request: Request, limit: number): Promise<ArrayBuffer | undefined> {
  if (!request.body) return undefined;
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw tooLarge(limit);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body.buffer;
}

function tooLarge(limit: number) {
  return new EdgeError("PAYLOAD_TOO_LARGE", `request body over ${limit} bytes`);
}
