/**
 * Bundles the runner (gpu-runner/src/main.ts and the shared contract it imports) into one ES
 * module, so its container needs no TypeScript loader and no dev dependencies: only
 * node-llama-cpp, whose native CUDA binaries stay in node_modules. Used by gpu-runner/Dockerfile
 * (`node --import tsx infra/bundle-runner.ts <outfile>`) and by its test.
 */
import path from "node:path";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "..");

export async function bundleRunner(outfile: string): Promise<void> {
  await build({
    entryPoints: [path.join(root, "gpu-runner", "src", "main.ts")],
    outfile,
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
  const outfile = process.argv[2];
  if (!outfile) {
    console.error("usage: bundle-runner.ts <outfile.mjs>");
    process.exit(2);
  }
  await bundleRunner(path.resolve(outfile));
}
