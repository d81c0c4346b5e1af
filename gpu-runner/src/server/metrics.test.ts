import { describe, expect, test } from "vitest";
import { parsePrometheusText, sampleValue } from "../../test/prometheus-text";
import type { Outcome } from "../engine/engine-observer";
import { emfLoad } from "./load-report";
import { loadOf, Metrics } from "./metrics";

const gauges = { queueDepth: 3, activeSequences: 4, loadSeconds: 1.5, ready: true };

describe("the runner's /metrics (rendered by prom-client, read as a scraper reads it)", () => {
  test("the load autoscaling tracks is the two gauges of the rendered exposition", async () => {
    const samples = parsePrometheusText(await new Metrics().render(gauges));
    const active = sampleValue(samples, "phi4_active_sequences");
    const queued = sampleValue(samples, "phi4_queue_depth");
    expect([active, queued]).toEqual([4, 3]);
    expect(loadOf(gauges)).toBe(active + queued);
    expect(emfLoad("Phi4/test", loadOf(gauges), 0).Load).toBe(7);
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
    metrics.downloadBytes = 1234;
    const samples = parsePrometheusText(await metrics.render({ ...gauges, ready: false }));
    expect(sampleValue(samples, "phi4_requests_total", { outcome: "stop" })).toBe(2);
    expect(sampleValue(samples, "phi4_requests_total", { outcome: "abort" })).toBe(1);
    expect(sampleValue(samples, "phi4_ttft_seconds_bucket", { le: "0.05" })).toBe(1);
    expect(sampleValue(samples, "phi4_ttft_seconds_bucket", { le: "0.025" })).toBe(0);
    expect(sampleValue(samples, "phi4_ttft_seconds_count")).toBe(1);
    expect(sampleValue(samples, "phi4_tokens_generated_total")).toBe(12);
    expect(sampleValue(samples, "phi4_prompt_tokens_total", { kind: "cached" })).toBe(900);
    expect(sampleValue(samples, "phi4_unauthorized_total")).toBe(1);
    expect(sampleValue(samples, "phi4_model_download_bytes")).toBe(1234);
    expect(sampleValue(samples, "phi4_ready")).toBe(0);
  });

  test("label values are escaped: a quote or newline cannot forge a series", async () => {
    const metrics = new Metrics();
    const hostile = 'x"} 99\nphi4_ready 1' as Outcome;
    metrics.requestEnded(hostile);
    const samples = parsePrometheusText(await metrics.render({ ...gauges, ready: false }));
    expect(sampleValue(samples, "phi4_requests_total", { outcome: hostile })).toBe(1);
    expect(sampleValue(samples, "phi4_ready")).toBe(0);
  });
});
