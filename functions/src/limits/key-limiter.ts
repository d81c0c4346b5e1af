import { DurableObject } from "cloudflare:workers";

const WINDOW_MS = 60_000;
/** A lease whose release never came (the Worker died mid-stream) expires after this. */
export const LEASE_TTL_MS = 30 * 60_000;
/** What a caller refused for too many open streams is told to wait. */
const STREAMS_RETRY_MS = 1_000;
/**
 * How long a change may stay in memory only: the most a restart can forget (see KeyLimiter).
 * Far below the 10 s of quiet after which an object may be put to sleep, which the pending
 * write prevents anyway.
 */
export const SAVE_AFTER_MS = 1_000;

export interface EffectiveLimits {
  perMinute: number;
  streams: number;
}

export type Admission =
  | { ok: true; lease: string }
  | { ok: false; reason: "per-minute" | "streams"; retryAfterMs: number };

/** What is stored under `state`. */
export interface LimiterState {
  /** Start times of the requests admitted in the last minute (a sliding window), oldest first. */
  recent: number[];
  /** Open streams: lease id → expiry. */
  leases: Record<string, number>;
}

/**
 * One instance per caller (`idFromName(callerId)`): a sliding one-minute request window and
 * a count of open streams. Durable Objects run one call at a time, so check-and-admit is
 * atomic. The counts live in memory and are written at most once per SAVE_AFTER_MS, off the
 * caller's path (a write per request was the largest part of the edge's added latency). An
 * object going idle, being put to sleep or evicted first waits for that write, so it forgets
 * nothing; only an abrupt restart (a deploy, a runtime update, a move) can forget what changed
 * in the last SAVE_AFTER_MS: at most that many admissions (a caller may get that many extra
 * requests or streams, never more than one window's limit) and releases (that many leases
 * come back and hold a stream slot until the stream's next release or LEASE_TTL_MS).
 */
export class KeyLimiter extends DurableObject<Env> {
  private state: LimiterState = { recent: [], leases: {} };
  private saving: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.state = (await ctx.storage.get<LimiterState>("state")) ?? this.state;
    });
  }

  admit(limits: EffectiveLimits): Admission {
    const now = Date.now();
    const { recent, leases } = this.state;
    const expired = recent.findIndex((t) => t > now - WINDOW_MS);
    if (expired !== 0) recent.splice(0, expired === -1 ? recent.length : expired);
    let open = 0;
    for (const [lease, expiry] of Object.entries(leases)) {
      if (expiry > now) open++;
      else delete leases[lease];
    }
    if (recent.length >= limits.perMinute) {
      const oldest = recent[recent.length - limits.perMinute] ?? now;
      return { ok: false, reason: "per-minute", retryAfterMs: oldest + WINDOW_MS - now };
    }
    if (open >= limits.streams) {
      return { ok: false, reason: "streams", retryAfterMs: STREAMS_RETRY_MS };
    }
    const lease = crypto.randomUUID();
    recent.push(now);
    leases[lease] = now + LEASE_TTL_MS;
    this.saveSoon();
    return { ok: true, lease };
  }

  release(lease: string): void {
    if (!(lease in this.state.leases)) return;
    delete this.state.leases[lease];
    this.saveSoon();
  }

  /** Open streams right now (tests and diagnostics). */
  openStreams(): number {
    const now = Date.now();
    return Object.values(this.state.leases).filter((expiry) => expiry > now).length;
  }

  /** One write for every change in the next SAVE_AFTER_MS. */
  private saveSoon(): void {
    if (this.saving) return;
    this.saving = setTimeout(() => {
      this.saving = undefined;
      // Unconfirmed: no caller waits for this write, and none should wait behind it either.
      this.ctx.storage.put("state", this.state, { allowUnconfirmed: true });
    }, SAVE_AFTER_MS);
  }
}
