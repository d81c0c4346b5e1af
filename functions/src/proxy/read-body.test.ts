import { expect, test } from "vitest";
import { EdgeError } from "../http/edge-error";
import { readBody } from "./read-body";

const streamed = (bytes: number) =>
  new Request("http://edge/v1/chat/completions", {
    method: "POST",
    body: new Blob([new Uint8Array(bytes)]).stream(),
    duplex: "half",
  } as RequestInit);

test("a body without Content-Length is counted as it is read", async () => {
  expect(streamed(10).headers.get("content-length")).toBeNull();
  expect((await readBody(streamed(100), 100))?.byteLength).toBe(100);
  const error = await readBody(streamed(101), 100).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(EdgeError);
  expect((error as EdgeError).status).toBe(413);
});

test("a declared Content-Length over the limit is refused before reading", async () => {
  // A body that never ends and counts its reads: only the declared length can refuse it.
  let pulls = 0;
  const endless = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        pulls++;
        controller.enqueue(new Uint8Array(1));
      },
    },
    { highWaterMark: 0 }, // nothing is pulled until someone reads
  );
  const request = new Request("http://edge/v1/chat/completions", {
    method: "POST",
    headers: { "content-length": "50" },
    body: endless,
    duplex: "half",
  } as RequestInit);
  await expect(readBody(request, 49)).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
  expect(pulls).toBe(0);
});
