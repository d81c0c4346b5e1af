import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { elfNeeded } from "./elf-needed";

// The image's CUDA runtime must be the major the prebuilt CUDA backend links against: with
// another one the backend cannot load, and (GPU=cuda being strict) the runner exits at start.
const dockerfile = path.resolve(import.meta.dirname, "../../Dockerfile");
const linuxX64 = process.platform === "linux" && process.arch === "x64";

/** Where npm installed the package (its exports hide package.json, so walk up from main). */
function cudaPackageDir(): string {
  let dir = path.dirname(createRequire(import.meta.url).resolve("@node-llama-cpp/linux-x64-cuda"));
  while (!existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
  return dir;
}

/** Every ELF file (shared objects and the addon) of a package, recursively. */
function binaries(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => /\.(so|node)$/.test(name))
    .map((name) => path.join(dir, name));
}

/** The CUDA majors a set of NEEDED entries asks for (libcudart.so.13 → 13). */
function cudaMajors(needed: string[]): Set<number> {
  const majors = needed.flatMap((name) => {
    const match = /^lib(?:cudart|cublas|cublasLt)\.so\.(\d+)$/.exec(name);
    return match ? [Number(match[1])] : [];
  });
  return new Set(majors);
}

function dockerfileCudaMajor(): number {
  const text = readFileSync(dockerfile, "utf8");
  const tag = /^ARG CUDA_IMAGE=nvidia\/cuda:(\d+)\.\d+(?:\.\d+)?-runtime-\S+$/m.exec(text);
  if (!tag) throw new Error("no `ARG CUDA_IMAGE=nvidia/cuda:<x.y.z>-runtime-…` in the Dockerfile");
  return Number(tag[1]);
}

describe.skipIf(!linuxX64)("the image's CUDA runtime", () => {
  test("is the major node-llama-cpp's CUDA backend links (ELF NEEDED entries)", async () => {
    const needed = (await Promise.all(binaries(cudaPackageDir()).map(elfNeeded))).flat();
    const majors = cudaMajors(needed);
    expect(majors.size, `CUDA libraries linked: ${[...majors]}`).toBe(1);
    expect(dockerfileCudaMajor()).toBe([...majors][0]);
  });

  test("the ELF reader agrees with readelf where binutils is installed", async (context) => {
    let readelf: string;
    const file = binaries(cudaPackageDir()).find((f) => f.endsWith("/libggml-cuda.so"));
    if (!file) throw new Error("no libggml-cuda.so in @node-llama-cpp/linux-x64-cuda");
    try {
      readelf = execFileSync("readelf", ["-d", file], { encoding: "utf8" });
    } catch {
      context.skip("readelf is not installed");
      return;
    }
    const listed = [...readelf.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map(
      (m) => m[1],
    );
    expect(listed).toContain("libcudart.so.13");
    expect(await elfNeeded(file)).toEqual(listed);
  });
});
