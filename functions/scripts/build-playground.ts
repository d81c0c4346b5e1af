/**
 * Builds the web playground (functions/playground) into functions/playground/dist, the
 * Worker's static assets directory (wrangler.jsonc `assets`, infra/edge.ts): the page, its
 * style, its security headers and one bundled script that runs the typed client in the browser.
 * Run by `npm run -w functions dev`, the edge tests and `sst deploy`; ~100 ms.
 * Usage: `npm run -w functions build:playground`.
 */
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildSync } from "esbuild";

const PLAYGROUND = path.resolve(import.meta.dirname, "../playground");
/** Where the built page goes, relative to the repository root (SST resolves it from there). */
export const PLAYGROUND_ASSETS = "functions/playground/dist";
const STATIC_FILES = ["index.html", "style.css", "_headers"];

/**
 * Writes the page into `outdir` (default functions/playground/dist) and returns it. Each file is
 * written beside its place and renamed over it, so an edge starting in parallel (tests) never
 * serves a half-written file.
 */
export function buildPlayground(outdir = path.join(PLAYGROUND, "dist")): string {
  mkdirSync(outdir, { recursive: true });
  const bundle = buildSync({
    entryPoints: [path.join(PLAYGROUND, "src", "main.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "none",
    write: false,
    logLevel: "warning",
  });
  const script = bundle.outputFiles[0];
  if (!script) throw new Error("esbuild produced no bundle for the playground");
  const place = (name: string, write: (tmp: string) => void) => {
    const tmp = path.join(outdir, `.${name}.${randomBytes(4).toString("hex")}`);
    write(tmp);
    renameSync(tmp, path.join(outdir, name));
  };
  place("app.js", (tmp) => writeFileSync(tmp, script.contents));
  for (const name of STATIC_FILES) {
    place(name, (tmp) => copyFileSync(path.join(PLAYGROUND, name), tmp));
  }
  return outdir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(buildPlayground());
}
