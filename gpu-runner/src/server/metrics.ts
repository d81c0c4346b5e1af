import type { EngineObserver, Outcome } from "../engine/engine-observer";

const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const ITL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** Live values read at scrape time. */
export interface Gauges {
  queueDepth: number;
  activeSequences: number;
  loadSeconds: number;
  ready: boolean;
}

/**
 * The runner's Prometheus metrics, kept by hand (a few counters and two histograms do not
 * need a client library). It is the engine's observer; gauges are read from the engine.
 */
export class Metrics implements EngineObserver {
  private outcomes = new Map<Outcome, number>();
  private ttft = new Histogram(TTFT_BUCKETS);
  private itl = new Histogram(ITL_BUCKETS);
  private tokens = 0;
  private evaluated = 0;
  private cached = 0;
  private httpUnauthorized = 0;
  /** Bytes of the model downloaded by this process so far. */
  downloadBytes = 0;

  requestEnded(outcome: Outcome): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }
  firstToken(ttftMs: number): void {
    this.ttft.observe(ttftMs / 1000);
  }
  interToken(ms: number): void {
    this.itl.observe(ms / 1000);
  }
  tokensGenerated(count: number): void {
    this.tokens += count;
  }
  promptTokens(evaluated: number, cached: number): void {
    this.evaluated += evaluated;
    this.cached += cached;
  }
  unauthorized(): void {
    this.httpUnauthorized++;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(gauges: Gauges): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    metric(
      "phi4_requests_total",
      "counter",
      "Chat requests by outcome (finish reason or error).",
      [...this.outcomes].map(([outcome, n]) => `phi4_requests_total{outcome="${outcome}"} ${n}`),
    );
    metric(
      "phi4_unauthorized_total",
      "counter",
      "Requests refused for a missing or wrong secret.",
      [`phi4_unauthorized_total ${this.httpUnauthorized}`],
    );
    metric(
      "phi4_ttft_seconds",
      "histogram",
      "Time from a request reaching the engine to its first token.",
      this.ttft.lines("phi4_ttft_seconds"),
    );
    metric(
      "phi4_inter_token_seconds",
      "histogram",
      "Time between consecutive generated tokens.",
      this.itl.lines("phi4_inter_token_seconds"),
    );
    metric("phi4_tokens_generated_total", "counter", "Tokens generated (reasoning included).", [
      `phi4_tokens_generated_total ${this.tokens}`,
    ]);
    metric(
      "phi4_prompt_tokens_total",
      "counter",
      "Prompt tokens, evaluated or reused from a sequence.",
      [
        `phi4_prompt_tokens_total{kind="evaluated"} ${this.evaluated}`,
        `phi4_prompt_tokens_total{kind="cached"} ${this.cached}`,
      ],
    );
    metric("phi4_queue_depth", "gauge", "Requests waiting for a sequence.", [
      `phi4_queue_depth ${gauges.queueDepth}`,
    ]);
    metric("phi4_active_sequences", "gauge", "Sequences generating now.", [
      `phi4_active_sequences ${gauges.activeSequences}`,
    ]);
    metric("phi4_model_load_seconds", "gauge", "Seconds the model took to load.", [
      `phi4_model_load_seconds ${gauges.loadSeconds}`,
    ]);
    metric("phi4_model_download_bytes", "gauge", "Model bytes downloaded by this process.", [
      `phi4_model_download_bytes ${this.downloadBytes}`,
    ]);
    metric("phi4_ready", "gauge", "1 when the model is loaded and serving.", [
      `phi4_ready ${gauges.ready ? 1 : 0}`,
    ]);
    return `${out.join("\n")}\n`;
  }
}

class Histogram {
  private counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number) {
    this.sum += value;
    this.count++;
    for (const [i, le] of this.buckets.entries()) {
      if (value <= le) this.counts[i] = (this.counts[i] ?? 0) + 1;
    }
  }

  lines(name: string): string[] {
    return [
      ...this.buckets.map((le, i) => `${name}_bucket{le="${le}"} ${this.counts[i]}`),
      `${name}_bucket{le="+Inf"} ${this.count}`,
      `${name}_sum ${this.sum}`,
      `${name}_count ${this.count}`,
    ];
  }
}
