import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ensureModel } from "../../src/model-store/ensure-model";
import { DiskSpaceError, VolumeNotWritableError } from "../../src/model-store/errors";
import { bodyRequests, fixture, MB, REPO } from "./fixtures";

// A real 3 MB filesystem (tmpfs) makes a real ENOSPC and EROFS. Mounting needs root (as in this
// project's CI container); elsewhere these tests are skipped, except under CI=true, where a
// mount that fails is a failure: CI must not lose these tests without a word.
const root = mkdtempSync(join(tmpdir(), "small-volume-"));
const volume = join(root, "volume");
mkdirSync(volume);
let mountError: unknown;
const mounted = (() => {
  if (process.env.PHI4_TEST_NO_TMPFS === "1") {
    mountError = new Error("PHI4_TEST_NO_TMPFS=1");
    return false;
  }
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", volume], { stdio: "pipe" });
    return true;
  } catch (error) {
    mountError = error;
    return false;
  }
})();

it.runIf(!mounted && process.env.CI === "true")("CI can mount the small tmpfs volume", () => {
  throw new Error(`cannot mount a tmpfs (run CI as root): ${String(mountError)}`);
});
afterAll(() => {
  if (mounted) execFileSync("umount", [volume], { stdio: "ignore" });
  rmSync(root, { recursive: true, force: true });
});

const fast = { retry: { attempts: 2, baseMs: 10 }, idleTimeoutMs: 2_000 };
afterEach(async () => {
  if (mounted)
    for (const name of await readdir(volume)) await rm(join(volume, name), { recursive: true });
});

describe.skipIf(!mounted)("a volume that fills up or is read-only", () => {
  it("disk full mid-download: names the path and the space needed, keeps the partial, resumes later", async () => {
    const fx = await fixture(2.5 * MB, { hub: { faults: { throttle: MB } } });
    const source = fx.source({ MODEL_CACHE_DIR: join(volume, "cache") });
    const filler = join(volume, "filler");
    let filling = false;
    const error = await ensureModel({
      ...source,
      ...fast,
      onProgress: (p) => {
        // Someone else fills the disk once our first megabyte is on it.
        if (p.phase === "downloading" && p.bytes >= MB && !filling) {
          filling = true;
          void writeFile(filler, Buffer.alloc(1.5 * MB)).catch(() => {});
        }
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiskSpaceError);
    const blobs = join(volume, "cache", `models--${REPO.replace("/", "--")}`, "blobs");
    expect(String(error)).toMatch(
      new RegExp(`^DiskSpaceError: not enough space in ${blobs}: need \\d`),
    );
    const left = await readdir(blobs);
    expect(left.filter((n) => n.endsWith(".lock"))).toEqual([]);
    expect(left.filter((n) => n.endsWith(".incomplete"))).toHaveLength(1);

    await rm(filler);
    fx.hub.setFaults({});
    fx.hub.requests.length = 0;
    await ensureModel({ ...source, ...fast });
    // (The first, failed transfer may be logged late, when its connection closes.)
    const [resume] = bodyRequests(fx.hub.requests).filter((r) => r.range);
    expect(Number(/^bytes=(\d+)-/.exec(resume?.range ?? "")?.[1])).toBeGreaterThan(0);
  });

  it("read-only: serves what the volume holds, and explains what it cannot write", async () => {
    const fx = await fixture(MB);
    const source = fx.source({ MODEL_CACHE_DIR: join(volume, "ro") });
    const model = await ensureModel({ ...source, ...fast });
    execFileSync("mount", ["-o", "remount,ro", volume], { stdio: "ignore" });
    try {
      expect(await ensureModel({ ...source, ...fast })).toEqual(model);
      const error = await ensureModel({
        ...fx.source({ MODEL_CACHE_DIR: join(volume, "empty") }),
        ...fast,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VolumeNotWritableError);
      expect(String(error)).toContain(`cannot write to ${join(volume, "empty")}`);
      expect(String(error)).toContain("the model needs 1.0 MB there");
    } finally {
      execFileSync("mount", ["-o", "remount,rw", volume], { stdio: "ignore" });
    }
  });
});
