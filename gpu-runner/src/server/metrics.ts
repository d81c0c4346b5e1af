import { Counter, Gauge, Histogram, Registry } from "prom-client";
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
 * The runner's Prometheus metrics (prom-client: the text format and label escaping are its
 * job). It is the engine's observer; gauges are read from the engine at each scrape.
 * `phi4_active_sequences` + `phi4_queue_depth` is the load autoscaling tracks (`loadOf`).
 */
export class Metrics implements EngineObserver {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: "phi4_requests_total",
    help: "Chat requests by outcome (finish reason or error).",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  private readonly unauthorizedTotal = new Counter({
    name: "phi4_unauthorized_total",
    help: "Requests refused for a missing or wrong secret.",
    registers: [this.registry],
  });
  private readonly ttft = new Histogram({
    name: "phi4_ttft_seconds",
    help: "Time from a request reaching the engine to its first token.",
    buckets: TTFT_BUCKETS,
    registers: [this.registry],
  });
  private readonly itl = new Histogram({
    name: "phi4_inter_token_seconds",
    help: "Time between consecutive generated tokens.",
    buckets: ITL_BUCKETS,
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: "phi4_tokens_generated_total",
    help: "Tokens generated (reasoning included).",
    registers: [this.registry],
  });
  private readonly prompt = new Counter({
    name: "phi4_prompt_tokens_total",
    help: "Prompt tokens, evaluated or reused from a sequence.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  private readonly queueDepth = this.gauge("phi4_queue_depth", "Requests waiting for a sequence.");
  private readonly activeSequences = this.gauge(
    "phi4_active_sequences",
    "Sequences generating now.",
  );
  private readonly loadSeconds = this.gauge(
    "phi4_model_load_seconds",
    "Seconds the model took to load.",
  );
  private readonly downloaded = this.gauge(
    "phi4_model_download_bytes",
    "Model bytes downloaded by this process.",
  );
  private readonly ready = this.gauge("phi4_ready", "1 when the model is loaded and serving.");

  constructor() {
    // Every series exists from the first scrape, at 0.
    this.prompt.inc({ kind: "evaluated" }, 0);
    this.prompt.inc({ kind: "cached" }, 0);
  }

  /** Bytes of the model downloaded by this process so far. */
  set downloadBytes(bytes: number) {
    this.downloaded.set(bytes);
  }

  requestEnded(outcome: Outcome): void {
    this.requests.inc({ outcome });
  }
  firstToken(ttftMs: number): void {
    this.ttft.observe(ttftMs / 1000);
  }
  interToken(ms: number): void {
    this.itl.observe(ms / 1000);
  }
  tokensGenerated(count: number): void {
    this.tokens.inc(count);
  }
  promptTokens(evaluated: number, cached: number): void {
    this.prompt.inc({ kind: "evaluated" }, evaluated);
    this.prompt.inc({ kind: "cached" }, cached);
  }
  unauthorized(): void {
    this.unauthorizedTotal.inc();
  }

  /** The Prometheus text exposition (`contentType`) with the engine's current gauges. */
  async render(gauges: Gauges): Promise<string> {
    this.queueDepth.set(gauges.queueDepth);
    this.activeSequences.set(gauges.activeSequences);
    this.loadSeconds.set(gauges.loadSeconds);
    this.ready.set(gauges.ready ? 1 : 0);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private gauge(name: string, help: string) {
    return new Gauge({ name, help, registers: [this.registry] });
  }
}

/** The load one runner reports for autoscaling: sequences generating plus requests queued. */
export function loadOf(gauges: Pick<Gauges, "activeSequences" | "queueDepth">): number {
  return gauges.activeSequences + gauges.queueDepth;
}
