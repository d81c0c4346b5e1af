import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { FILE, fixture, MB, REPO } from "./fixtures";

const ROOT = resolve(import.meta.dirname, "../../..");

it("npm run -w gpu-runner pull, typed in any folder, puts a relative MODEL_CACHE_DIR there", async () => {
  // npm runs the script in gpu-runner/; the folder must still be the one the user named, the
  // one `npm start` (run at the root) reads, or the model is downloaded twice.
  const fx = await fixture(MB);
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" };
  const { stdout } = await promisify(execFile)(
    "npm",
    ["--prefix", ROOT, "run", "-s", "-w", "gpu-runner", "pull"],
    { cwd: fx.dir, env: { ...env, ...fx.vars({ MODEL_CACHE_DIR: "volume" }) } },
  );
  const snapshot = join(fx.cacheDir, `models--${REPO.replace("/", "--")}`, "snapshots");
  expect(stdout.trim().split("\n").at(-1)).toBe(join(snapshot, fx.hub.commitOf(REPO), FILE));
}, 60_000);
