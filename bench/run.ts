import { mkdir, readFile, writeFile } from "node:fs/promises";
import { availableParallelism, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { type Figure, SkippedBench } from "./figure";
import { type BenchRun, markdownReport, svgChart } from "./report";

/** Every benchmark, in the order the report shows them. Each module's default export runs it. */
const BENCHES: Record<string, () => Promise<{ default: () => Promise<Figure[]> }>> = {
  edge: () => import("./edge"),
  runner: () => import("./runner"),
  decode: () => import("./decode"),
  "decode-wall": () => import("./decode-wall"),
  concurrency: () => import("./concurrency"),
  download: () => import("./download"),
  "cold-start": () => import("./cold-start"),
};

const root = fileURLToPath(new URL("..", import.meta.url));
const only = process.argv.slice(2);
const run: BenchRun = {
  date: new Date().toISOString().slice(0, 10),
  machine: {
    cpus: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
  },
  figures: [],
  failures: [],
  skipped: [],
};

for (const [name, load] of Object.entries(BENCHES)) {
  if (only.length && !only.includes(name)) continue;
  const started = performance.now();
  process.stderr.write(`bench ${name}…\n`);
  try {
    const figures = await (await load()).default();
    run.figures.push(...figures);
    for (const f of figures)
      process.stderr.write(
        `  ${f.title}: ${f.value.toFixed(2)} ${f.unit} (${f.ratio.toFixed(2)}×)\n`,
      );
  } catch (error) {
    if (error instanceof SkippedBench) {
      run.skipped.push({ bench: name, message: error.message });
      process.stderr.write(`  skipped: ${error.message}\n`);
      continue;
    }
    const message = error instanceof Error ? error.message : String(error);
    run.failures.push({ bench: name, message });
    process.stderr.write(`  failed: ${message}\n`);
  }
  process.stderr.write(`  ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

const dir = `${root}bench/results`;
await mkdir(dir, { recursive: true });
const markdown = markdownReport(run);
await writeFile(`${dir}/${run.date}.json`, `${JSON.stringify(run, null, 2)}\n`);
await writeFile(`${dir}/${run.date}.md`, `${markdown}\n`);
await writeFile(`${dir}/latest.svg`, `${svgChart(run)}\n`);
await writeFile(`${dir}/latest.md`, `${markdown}\n`);

// The README shows the latest table and chart between these markers.
const readmePath = `${root}README.md`;
const readme = await readFile(readmePath, "utf8");
const start = "<!-- bench:start -->";
const end = "<!-- bench:end -->";
if (readme.includes(start) && readme.includes(end) && !only.length) {
  const body = `${start}\n${markdown}\n\n![benchmark ratios](bench/results/latest.svg)\n${end}`;
  await writeFile(readmePath, readme.replace(new RegExp(`${start}[\\s\\S]*${end}`), body));
}
process.stdout.write(
  `${markdown}\n\nwritten: bench/results/${run.date}.{json,md}, bench/results/latest.{md,svg}\n`,
);
process.exitCode = run.failures.length ? 1 : 0;
