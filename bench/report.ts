import type { Figure } from "./figure";

export interface BenchRun {
  date: string;
  machine: { cpus: number; memoryGiB: number; node: string };
  figures: Figure[];
  failures: { bench: string; message: string }[];
}

const fmt = (n: number) =>
  Number.isNaN(n)
    ? "n/a"
    : Math.abs(n) >= 100
      ? n.toFixed(0)
      : Math.abs(n) >= 10
        ? n.toFixed(1)
        : n.toFixed(2);

/** The markdown table the README shows. */
export function markdownReport(run: BenchRun): string {
  const rows = run.figures.map(
    (f) =>
      `| ${f.title} | ${fmt(f.value)} ${f.unit} | ${f.baseline.title}: ${fmt(f.baseline.value)} ${f.unit} | **${fmt(f.ratio)}×** ${f.higherIsBetter ? "(higher is better)" : "(lower is better)"} |`,
  );
  const failures = run.failures.map((f) => `- ${f.bench} failed: ${f.message}`);
  return [
    `Measured ${run.date} on ${run.machine.cpus} CPUs, ${run.machine.memoryGiB} GiB, Node ${run.machine.node}; every ratio is against a baseline measured in the same run.`,
    "",
    "| measure | value | baseline | ratio |",
    "| --- | --- | --- | --- |",
    ...rows,
    ...(failures.length ? ["", ...failures] : []),
  ].join("\n");
}

const escapeXml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A horizontal bar chart of every ratio, with the baseline (1×) marked. */
export function svgChart(run: BenchRun): string {
  const rowHeight = 26;
  const labelWidth = 360;
  const barWidth = 360;
  const max = Math.max(1.2, ...run.figures.map((f) => (Number.isFinite(f.ratio) ? f.ratio : 0)));
  const scale = (r: number) => (Math.max(0, r) / max) * barWidth;
  const height = 40 + run.figures.length * rowHeight;
  const bars = run.figures.map((f, i) => {
    const y = 30 + i * rowHeight;
    const good = f.higherIsBetter ? f.ratio >= 1 : f.ratio <= 1;
    const w = Number.isFinite(f.ratio) ? scale(f.ratio) : 0;
    return [
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(f.title)}</text>`,
      `<rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="16" fill="${good ? "#3a7d44" : "#b5543c"}"/>`,
      `<text x="${labelWidth + w + 6}" y="${y + 15}">${fmt(f.ratio)}×</text>`,
    ].join("");
  });
  const one = labelWidth + scale(1);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + barWidth + 80}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="18" font-weight="bold">phi4-edge benchmarks — ratio to the same-run baseline (${escapeXml(run.date)})</text>`,
    ...bars,
    `<line x1="${one}" y1="26" x2="${one}" y2="${height - 6}" stroke="#333" stroke-dasharray="3,3"/>`,
    `<text x="${one + 3}" y="${height - 8}" fill="#333">1×</text>`,
    "</svg>",
  ].join("\n");
}
