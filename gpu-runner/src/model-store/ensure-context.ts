import type { Logger } from "pino";
import type { RetryPolicy } from "./backoff";
import type { CacheLayout } from "./cache-layout";
import type { EnsureModelParams, ModelProgress } from "./ensure-model";
import type { HubContext } from "./hub-metadata";

/** What one `ensureModel` call works with, shared by its two halves (resolve, download). */
export interface EnsureContext extends HubContext {
  params: EnsureModelParams;
  signal: AbortSignal;
  layout: CacheLayout;
  report: (p: ModelProgress) => void;
  log: Logger | undefined;
  retry: RetryPolicy;
  /** No bytes (headers or body) for this long → the request is retried. */
  idleMs: number;
}
