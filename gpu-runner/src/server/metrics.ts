import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Outcome } from "../engine/engine-observer";
import type { EnginePhase } from "../engine/readiness";
import type { RunnerObserver } from "../runner-observer";

const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const ITL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * The runner's Prometheus metrics (prom-client: the text format and label escaping are its
 * job). Every value arrives through the observer it implements, and nothing else.
 * `phi4_active_sequences` + `phi4_queue_depth` is the load autoscaling tracks (`load()`).
 */
export class Metrics implements RunnerObserver {
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
  private readonly downloadBytes = this.gauge(
    "phi4_model_download_bytes",
    "Model bytes downloaded by this process.",
  );
  private readonly ready = this.gauge("phi4_ready", "1 when the model is loaded and serving.");
  private sequences = { active: 0, queued: 0 };

  constructor() {
    // Every series exists from the first scrape, at 0.
    this.prompt.inc({ kind: "evaluated" }, 0);
    this.prompt.inc({ kind: "cached" }, 0);
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
  occupancy(active: number, queued: number): void {
    this.sequences = { active, queued };
    this.activeSequences.set(active);
    this.queueDepth.set(queued);
  }
  phase(phase: EnginePhase): void {
    this.ready.set(phase === "ready" ? 1 : 0);
  }
  modelLoaded(seconds: number): void {
    this.loadSeconds.set(seconds);
  }
  unauthorized(): void {
    this.unauthorizedTotal.inc();
  }
  downloaded(bytes: number): void {
    this.downloadBytes.set(bytes);
  }

  /** The load one runner reports for autoscaling: sequences generating plus requests queued. */
  load(): number {
    return this.sequences.active + this.sequences.queued;
  }

  /** The Prometheus text exposition (`contentType`). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private gauge(name: string, help: string) {
    return new Gauge({ name, help, registers: [this.registry] });
  }
}
