/**
 * The runner's load for autoscaling, as a CloudWatch metric: a sidecar in the runner's task
 * (same image, `node load-metric.mjs`) reads the runner's Prometheus `/metrics` once a minute
 * and prints one Embedded Metric Format line to stdout; the awslogs driver ships it and
 * CloudWatch turns it into `<namespace> Load{Service=runner}` = sequences generating + requests
 * queued. infra/scaling.ts tracks its average across runners.
 */

/** Requests being served plus requests waiting, from the runner's `/metrics` text. */
export function parseLoad(prometheusText: string): number | undefined {
  const gauge = (name: string) => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)\\s*$`, "m").exec(
      prometheusText,
    );
    return match ? Number(match[1]) : undefined;
  };
  const active = gauge("phi4_active_sequences");
  const queued = gauge("phi4_queue_depth");
  if (active === undefined || queued === undefined) return undefined;
  return active + queued;
}

/** One EMF log line: CloudWatch Logs extracts the metric from it, no API call needed. */
export function emfLine(namespace: string, load: number, timestamp: number): string {
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [["Service"]],
          Metrics: [{ Name: "Load", Unit: "Count" }],
        },
      ],
    },
    Service: "runner",
    Load: load,
  });
}

export interface LoadMetricOptions {
  runnerUrl: string;
  secret: string;
  namespace: string;
  intervalMs: number;
  signal?: AbortSignal;
  write?: (line: string) => void;
}

/** Polls until aborted. A runner that is down or still loading publishes nothing that minute. */
export async function publishLoad(options: LoadMetricOptions): Promise<void> {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const { signal } = options;
  while (!signal?.aborted) {
    try {
      const response = await fetch(`${options.runnerUrl}/metrics`, {
        headers: { authorization: `Bearer ${options.secret}` },
        signal: AbortSignal.any([AbortSignal.timeout(10_000), ...(signal ? [signal] : [])]),
      });
      const load = response.ok ? parseLoad(await response.text()) : undefined;
      if (load !== undefined) write(emfLine(options.namespace, load, Date.now()));
    } catch {
      // Not up yet (cold start) or restarting: try again next interval.
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.intervalMs);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const env = process.env;
  const missing = ["RUNNER_SECRET", "CLOUDWATCH_METRICS_NAMESPACE"].filter((n) => !env[n]);
  if (missing.length > 0) {
    console.error(`load-metric: ${missing.join(", ")} not set`);
    process.exit(2);
  }
  const stop = new AbortController();
  process.on("SIGTERM", () => stop.abort());
  await publishLoad({
    runnerUrl: env.RUNNER_URL ?? "http://runner:8080",
    secret: env.RUNNER_SECRET as string,
    namespace: env.CLOUDWATCH_METRICS_NAMESPACE as string,
    intervalMs: Number(env.LOAD_INTERVAL_MS ?? 60_000),
    signal: stop.signal,
  });
}
