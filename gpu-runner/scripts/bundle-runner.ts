/**
 * Bundles the runner (gpu-runner/src/main.ts and the shared contract it imports) into one ES
 * module, so its container needs no TypeScript loader and no dev dependencies: only
 * node-llama-cpp, whose native CUDA binaries stay in node_modules. Used by gpu-runner/Dockerfile
 * (`node --import tsx gpu-runner/scripts/bundle-runner.ts <outdir>`) and by its test.
 */
import path from "node:path";
import { build } from "esbuild";

const runner = path.resolve(import.meta.dirname, "..");

/** Writes `main.mjs` (the runner) and its source map into `outdir`. */
export async function bundleRunner(outdir: string): Promise<void> {
  await build({
    entryPoints: { main: path.join(runner, "src", "main.ts") },
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    // Native addon and prebuilt binaries, located at run time relative to its own package.
    external: ["node-llama-cpp", "@node-llama-cpp/*"],
    // Some bundled CommonJS dependencies call require() for Node built-ins.
    banner: {
      js: "import { createRequire as __phi4Require } from 'node:module'; const require = __phi4Require(import.meta.url);",
    },
    sourcemap: true,
    legalComments: "none",
    logLevel: "warning",
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outdir = process.argv[2];
  if (!outdir) {
    console.error("usage: bundle-runner.ts <outdir>");
    process.exit(2);
  }
  await bundleRunner(path.resolve(outdir));
}
