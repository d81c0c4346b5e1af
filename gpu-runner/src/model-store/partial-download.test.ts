import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { prefixRecordPath, recordPrefix } from "./partial-download";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("recordPrefix", () => {
  it("records at once from two places (a new range and the periodic flush) without failing, the later value last", async () => {
    const dir = await mkdtemp(join(tmpdir(), "partial-"));
    dirs.push(dir);
    const partial = join(dir, "blob.owner.incomplete");
    // Before, both wrote the same temp file and one of the renames failed with ENOENT.
    for (let i = 0; i < 20; i++) {
      await Promise.all([recordPrefix(partial, 2 * i), recordPrefix(partial, 2 * i + 1)]);
      expect(await readFile(prefixRecordPath(partial), "utf8")).toBe(String(2 * i + 1));
    }
    expect(await readdir(dir)).toEqual(["blob.owner.incomplete.prefix"]);
  });
});
