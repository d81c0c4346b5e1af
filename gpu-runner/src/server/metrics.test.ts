import { describe, expect, test } from "vitest";
import { parsePrometheusText, sampleValue } from "../../test/prometheus-text";
import type { Outcome } from "../engine/engine-observer";
import { emfLoad } from "./load-report";
import { Metrics } from "./metrics";

describe("the runner's /metrics (rendered by prom-client, read as a scraper reads it)", () => {
  test("every series exists from the first scrape, at 0", async () => {
    const samples = parsePrometheusText(await new Metrics().render());
    for (const name of [
      "phi4_queue_depth",
      "phi4_active_sequences",
      "phi4_model_load_seconds",
      "phi4_model_download_bytes",
      "phi4_ready",
      "phi4_unauthorized_total",
      "phi4_tokens_generated_total",
      "phi4_ttft_seconds_count",
    ]) {
      expect(sampleValue(samples, name), name).toBe(0);
    }
    expect(sampleValue(samples, "phi4_prompt_tokens_total", { kind: "evaluated" })).toBe(0);
  });

  test("the load autoscaling tracks is the two gauges of the rendered exposition", async () => {
    const metrics = new Metrics();
    metrics.occupancy(4, 3);
    const samples = parsePrometheusText(await metrics.render());
    const active = sampleValue(samples, "phi4_active_sequences");
    const queued = sampleValue(samples, "phi4_queue_depth");
    expect([active, queued]).toEqual([4, 3]);
    expect(metrics.load()).toBe(active + queued);
    expect(emfLoad("Phi4/test", metrics.load(), 0).Load).toBe(7);
  });

  test("counters and histograms follow what the engine observed", async () => {
    const metrics = new Metrics();
    metrics.requestEnded("stop");
    metrics.requestEnded("stop");
    metrics.requestEnded("abort");
    metrics.firstToken(30);
    metrics.tokensGenerated(12);
    metrics.promptTokens(100, 900);
    metrics.unauthorized();
    metrics.downloaded(1234);
    metrics.modelLoaded(1.5);
    metrics.phase("ready");
    metrics.phase("draining");
    const samples = parsePrometheusText(await metrics.render());
    expect(sampleValue(samples, "phi4_requests_total", { outcome: "stop" })).toBe(2);
    expect(sampleValue(samples, "phi4_requests_total", { outcome: "abort" })).toBe(1);
    expect(sampleValue(samples, "phi4_ttft_seconds_bucket", { le: "0.05" })).toBe(1);
    expect(sampleValue(samples, "phi4_ttft_seconds_bucket", { le: "0.025" })).toBe(0);
    expect(sampleValue(samples, "phi4_ttft_seconds_count")).toBe(1);
    expect(sampleValue(samples, "phi4_tokens_generated_total")).toBe(12);
    expect(sampleValue(samples, "phi4_prompt_tokens_total", { kind: "cached" })).toBe(900);
    expect(sampleValue(samples, "phi4_unauthorized_total")).toBe(1);
    expect(sampleValue(samples, "phi4_model_download_bytes")).toBe(1234);
    expect(sampleValue(samples, "phi4_model_load_seconds")).toBe(1.5);
    expect(sampleValue(samples, "phi4_ready")).toBe(0);
  });

  test("label values are escaped: a quote or newline cannot forge a series", async () => {
    const metrics = new Metrics();
    const hostile = 'x"} 99\nphi4_ready 1' as Outcome;
    metrics.requestEnded(hostile);
    const samples = parsePrometheusText(await metrics.render());
    expect(sampleValue(samples, "phi4_requests_total", { outcome: hostile })).toBe(1);
    expect(sampleValue(samples, "phi4_ready")).toBe(0);
  });
});
