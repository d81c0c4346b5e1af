import { AwsClient } from "aws4fetch";

/** Where the runners' ECS service is and the least-privilege key allowed to update it. */
export interface WakeConfig {
  region: string;
  cluster: string;
  service: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The ECS API endpoint; defaults to `https://ecs.<region>.amazonaws.com/` (tests: local). */
  endpoint?: string;
}

export interface WakeOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** At most one ECS call per service per isolate in this window (default 30 s). */
  minIntervalMs?: number;
  now?: () => number;
}

export type WakeAction =
  /** desiredCount was 0 and is now 1. */
  | "started"
  /** desiredCount was already ≥ 1: a runner is starting or the service is scaling. */
  | "already-starting"
  /** Another request of this isolate asked ECS less than `minIntervalMs` ago. */
  | "throttled"
  /** ECS refused or could not be reached; the error is attached. */
  | "failed";

export interface WakeOutcome {
  action: WakeAction;
  /** Present when `action` is "failed"; never contains the key. */
  error?: WakeError;
}

/** An ECS API call failed: its HTTP status and AWS error type, never the credentials. */
export class WakeError extends Error {
  override name = "WakeError";
  readonly status?: number;
  readonly awsType?: string;
  constructor(
    message: string,
    details: { status?: number; awsType?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
    this.status = details.status;
    this.awsType = details.awsType;
  }
}

const TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113";
/** Per isolate: when each service was last asked, so a burst of callers makes one ECS call. */
const lastAttempt = new Map<string, number>();

/**
 * Starts a runner when the service sits at zero (ECS DescribeServices, then UpdateService
 * desiredCount 1 only if it was 0: idempotent across isolates), at most once per
 * `minIntervalMs` per isolate. (What the caller is told meanwhile is `wakingError`.)
 * Never throws for ECS failures (they come back as `action: "failed"`); an abort rethrows.
 */
export async function wakeRunner(
  config: WakeConfig,
  options: WakeOptions = {},
): Promise<WakeOutcome> {
  const { signal } = options;
  if (signal?.aborted) throw signal.reason;
  const now = options.now ?? Date.now;
  const minIntervalMs = options.minIntervalMs ?? 30_000;

  const key = `${config.region}/${config.cluster}/${config.service}`;
  const last = lastAttempt.get(key);
  if (last !== undefined && now() - last < minIntervalMs) return { action: "throttled" };
  lastAttempt.set(key, now());

  const ecs = ecsClient(config, options);
  try {
    const described = await ecs<DescribeServicesOutput>("DescribeServices", {
      cluster: config.cluster,
      services: [config.service],
    });
    const service = described.services?.find((s) => s.status !== "INACTIVE");
    if (!service) {
      const reason = described.failures?.[0]?.reason ?? "not found";
      throw new WakeError(`ECS service ${config.service}: ${reason}`);
    }
    if ((service.desiredCount ?? 0) > 0) return { action: "already-starting" };
    await ecs("UpdateService", {
      cluster: config.cluster,
      service: config.service,
      desiredCount: 1,
    });
    return { action: "started" };
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const wakeError =
      error instanceof WakeError
        ? error
        : new WakeError("ECS could not be reached", { cause: error });
    return { action: "failed", error: wakeError };
  }
}

/** Forgets the per-isolate throttle (tests). */
export function resetWakeThrottle(): void {
  lastAttempt.clear();
}

interface DescribeServicesOutput {
  services?: { serviceName?: string; status?: string; desiredCount?: number }[];
  failures?: { arn?: string; reason?: string }[];
}

/** One signed call to the ECS JSON API (SigV4 through aws4fetch: works in workerd and Node). */
function ecsClient(config: WakeConfig, options: WakeOptions) {
  const aws = new AwsClient({
    accessKeyId: config.accessKeyId,
    secretAccessKey: config.secretAccessKey,
    service: "ecs",
    region: config.region,
  });
  const endpoint = config.endpoint ?? `https://ecs.${config.region}.amazonaws.com/`;
  const doFetch = options.fetch ?? fetch;

  return async function ecs<T>(action: string, body: unknown): Promise<T> {
    const request = await aws.sign(endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": `${TARGET_PREFIX}.${action}`,
      },
      body: JSON.stringify(body),
    });
    const response = await doFetch(request, { signal: options.signal });
    const text = await response.text();
    if (!response.ok) {
      const { type, message } = parseAwsError(text);
      throw new WakeError(
        `ECS ${action} failed (${response.status}${type ? ` ${type}` : ""})${message ? `: ${message}` : ""}`,
        { status: response.status, awsType: type },
      );
    }
    return (text ? JSON.parse(text) : {}) as T;
  };
}

/** AWS JSON errors: `{ "__type": "…#AccessDeniedException", "message": "…" }`. */
function parseAwsError(text: string): { type?: string; message?: string } {
  try {
    const json = JSON.parse(text) as { __type?: string; message?: string; Message?: string };
    return { type: json.__type?.split("#").pop(), message: json.message ?? json.Message };
  } catch {
    return {};
  }
}
