import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VolumeIoError } from "./errors";
import { PrefixHasher } from "./prefix-hasher";

const MB = 1 << 20;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("PrefixHasher", () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "prefix-hasher-"));
    path = join(dir, "blob.incomplete");
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("hashes in-order writes from their buffers, the rest from the file, and gets the whole file", async () => {
    const data = randomBytes(10 * MB + 123);
    const check = { kind: "sha256" as const, oid: sha256(data) };
    // A resumed prefix of 3 MB is on the volume before the download starts.
    await writeFile(path, data.subarray(0, 3 * MB));
    const file = await open(path, "r+");
    const hasher = new PrefixHasher(path, check, data.length);
    hasher.advance(3 * MB);
    const write = async (from: number, to: number) => {
      const bytes = Buffer.from(data.subarray(from, to));
      await file.write(bytes, 0, bytes.length, from);
      hasher.wrote(from, bytes);
      bytes.fill(0); // the slab is reused at once: only what was hashed in the call counts
    };
    // A connection ahead of the frontier, then the frontier's own range in order.
    await write(7 * MB, data.length);
    for (let at = 3 * MB; at < 7 * MB; at += MB) {
      await write(at, at + MB);
      hasher.advance(at + MB);
    }
    hasher.advance(data.length);
    await file.close();
    expect(await hasher.digest(data.length)).toBe(check.oid);
    await hasher.close();
  });

  it("hashes git blobs with their header", async () => {
    const data = Buffer.from("hello\n");
    await writeFile(path, data);
    const oid = createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex");
    const hasher = new PrefixHasher(path, { kind: "git-sha1", oid }, data.length);
    hasher.wrote(0, data);
    expect(await hasher.digest(data.length)).toBe(oid);
  });

  it("a file shorter than it should be is a volume error, not a wrong digest", async () => {
    await writeFile(path, randomBytes(MB));
    const hasher = new PrefixHasher(path, { kind: "sha256", oid: "0".repeat(64) }, 2 * MB);
    await expect(hasher.digest(2 * MB)).rejects.toThrow(VolumeIoError);
    await hasher.close();
  });

  it("abort while the file is read back rethrows the signal's reason", async () => {
    await writeFile(path, randomBytes(64 * MB));
    const hasher = new PrefixHasher(path, { kind: "sha256", oid: "0".repeat(64) }, 64 * MB);
    const controller = new AbortController();
    const reason = new Error("stop");
    const digest = hasher.digest(64 * MB, controller.signal);
    controller.abort(reason);
    await expect(digest).rejects.toBe(reason);
    await hasher.close();
  });
});
