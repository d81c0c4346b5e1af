import type pino from "pino";

/**
 * One CloudWatch Embedded Metric Format entry: CloudWatch Logs turns it into the metric
 * `<namespace> Load{Service=runner}` as the log line arrives (the task's awslogs driver ships
 * stdout), with no API call and no credentials. infra/scaling.ts tracks its average.
 */
export function emfLoad(namespace: string, load: number, timestamp: number) {
  return {
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
  };
}

export interface LoadReportOptions {
  namespace: string;
  intervalMs: number;
  logger: pino.Logger;
  /** The runner's load now (sequences generating + requests queued). */
  load: () => number;
}

/**
 * Logs the load as an EMF line every `intervalMs`, whatever LOG_LEVEL says (autoscaling
 * depends on it). Returns the function that stops it.
 */
export function reportLoad(options: LoadReportOptions): () => void {
  const log = options.logger.child({}, { level: "info" });
  const timer = setInterval(() => {
    log.info(emfLoad(options.namespace, options.load(), Date.now()), "load");
  }, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
