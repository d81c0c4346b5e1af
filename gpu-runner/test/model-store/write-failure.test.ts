import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ensureModel } from "../../src/model-store/ensure-model";
import { VolumeIoError } from "../../src/model-store/errors";
import {
  bodyRequests,
  FILE,
  type Fixture,
  fast,
  fixture,
  MB,
  REPO,
  repoDir,
  sha256,
} from "./fixtures";

// EIO (a failing EFS or disk) cannot be produced on this machine, so the temp file's handle is the
// real one except that chosen calls fail the way Node's fs does. Everything else is real.
const faults = vi.hoisted(() => ({
  /** The next writev at or past this position fails with EIO, writing nothing. */
  writevFrom: undefined as number | undefined,
  /** The next datasync fails with EIO. */
  datasync: false,
}));
vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const eio = (syscall: string) =>
    Object.assign(new Error(`EIO: i/o error, ${syscall}`), { errno: -5, code: "EIO", syscall });
  const open: typeof real.open = async (path, flags, mode) => {
    const handle = await real.open(path, flags, mode);
    if (!String(path).endsWith(".incomplete")) return handle;
    return new Proxy(handle, {
      get(target, prop) {
        if (prop === "writev") {
          return async (buffers: Buffer[], position: number) => {
            if (faults.writevFrom !== undefined && position >= faults.writevFrom) {
              faults.writevFrom = undefined;
              throw eio("write");
            }
            return target.writev(buffers, position);
          };
        }
        if (prop === "datasync" && faults.datasync) {
          return async () => {
            faults.datasync = false;
            throw eio("fdatasync");
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  return { ...real, open, default: { ...real, open } };
});

afterEach(async () => {
  faults.writevFrom = undefined;
  faults.datasync = false;
});

const blobsDir = (f: Fixture) => join(repoDir(f), "blobs");

describe("a write to the temp file fails (EIO)", () => {
  it("is a clear error naming the file, never a retry that installs a blob with a hole", async () => {
    // The connection drops at 1.5 MB and the write of what arrived after the first megabyte fails:
    // the retry must not resume after bytes that never reached the file (their hash would match).
    const fx = await fixture(3 * MB, {
      hub: { faults: { drop: { afterBytes: 1.5 * MB, times: 1 } } },
    });
    const expected = await fx.hub.sha256Of(REPO, FILE);
    faults.writevFrom = MB;
    const error = await ensureModel({ ...fx.source(), ...fast }).then(
      // Before the fix it resolved: a blob with a hole at 1 MB, recorded as verified.
      async (model) => expect(await sha256(model.path)).toBe(expected),
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(VolumeIoError);
    expect(String(error)).toMatch(
      new RegExp(
        `^VolumeIoError: writing ${blobsDir(fx)}/${expected}\\.[^ ]+\\.incomplete failed \\(EIO\\)`,
      ),
    );
    const left = await readdir(blobsDir(fx));
    expect(left).not.toContain(expected); // nothing installed
    const partials = left.filter((n) => n.endsWith(".incomplete"));
    expect(partials).toHaveLength(1);
    // The partial holds exactly the bytes that were written (a prefix of the file, no hole).
    const partial = await readFile(join(blobsDir(fx), partials[0]!));
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.equals((await readFile(fx.modelFile)).subarray(0, partial.length))).toBe(true);

    // Once the volume works again, the partial holds only what was written: resuming from it
    // gives the Hub's exact bytes.
    fx.hub.requests.length = 0;
    const model = await ensureModel({ ...fx.source(), ...fast });
    expect(await sha256(model.path)).toBe(expected);
    const [resume] = bodyRequests(fx.hub.requests).filter((r) => r.range);
    expect(resume?.range).toBe(`bytes=${partial.length}-${3 * MB - 1}`);
  });

  it("a failed background datasync is fatal too (the kernel may have dropped those pages)", async () => {
    const fx = await fixture(40 * MB); // past the 32 MB between background datasyncs
    faults.datasync = true;
    const error = await ensureModel({ ...fx.source(), ...fast }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VolumeIoError);
    expect(String(error)).toContain("failed (EIO)");
    expect(await readdir(blobsDir(fx))).not.toContain(await fx.hub.sha256Of(REPO, FILE));
  });
});
