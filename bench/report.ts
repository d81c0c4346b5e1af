import type { Figure } from "./figure";

export interface BenchRun {
  date: string;
  machine: { cpus: number; memoryGiB: number; node: string };
  figures: Figure[];
  failures: { bench: string; message: string }[];
  skipped: { bench: string; message: string }[];
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
  const failures = [
    ...run.failures.map((f) => `- ${f.bench} failed: ${f.message}`),
    ...run.skipped.map((s) => `- ${s.bench} skipped: ${s.message}`),
  ];
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

/**
 * A horizontal bar chart of every ratio on a log scale: each bar runs from the baseline (1×)
 * to the ratio, left when the figure is below its baseline and right when above.
 */
export function svgChart(run: BenchRun): string {
  const rowHeight = 26;
  const labelWidth = 380;
  const half = 200; // pixels per side of the 1× line
  const decades = 2; // 0.01× … 100×
  const x = (ratio: number) => {
    const clamped = Math.min(10 ** decades, Math.max(10 ** -decades, ratio));
    return labelWidth + half + (Math.log10(clamped) / decades) * half;
  };
  const one = x(1);
  const height = 50 + run.figures.length * rowHeight;
  const bars = run.figures.map((f, i) => {
    const y = 30 + i * rowHeight;
    const good = f.higherIsBetter ? f.ratio >= 1 : f.ratio <= 1;
    const end = Number.isFinite(f.ratio) && f.ratio > 0 ? x(f.ratio) : one;
    const left = Math.min(one, end);
    const labelX = end >= one ? end + 4 : end - 4;
    return [
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(f.title)}</text>`,
      `<rect x="${left.toFixed(1)}" y="${y + 3}" width="${Math.max(1, Math.abs(end - one)).toFixed(1)}" height="16" fill="${good ? "#3a7d44" : "#b5543c"}"/>`,
      `<text x="${labelX.toFixed(1)}" y="${y + 15}" text-anchor="${end >= one ? "start" : "end"}">${fmt(f.ratio)}×</text>`,
    ].join("");
  });
  const ticks = [0.01, 0.1, 1, 10, 100].map(
    (t) =>
      `<text x="${x(t).toFixed(1)}" y="${height - 8}" text-anchor="middle" fill="#555">${t}×</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + 2 * half + 60}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="18" font-weight="bold">phi4-edge benchmarks: ratio to the same-run baseline, log scale (${escapeXml(run.date)}); green = better than baseline</text>`,
    ...bars,
    `<line x1="${one.toFixed(1)}" y1="26" x2="${one.toFixed(1)}" y2="${height - 22}" stroke="#333" stroke-dasharray="3,3"/>`,
    ...ticks,
    "</svg>",
  ].join("\n");
}
