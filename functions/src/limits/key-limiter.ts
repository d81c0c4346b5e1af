import { DurableObject } from "cloudflare:workers";

const WINDOW_MS = 60_000;
/** A lease whose release never came (the Worker died mid-stream) expires after this. */
export const LEASE_TTL_MS = 30 * 60_000;
/** What a caller refused for too many open streams is told to wait. */
const STREAMS_RETRY_MS = 1_000;

export interface EffectiveLimits {
  perMinute: number;
  streams: number;
}

export type Admission =
  | { ok: true; lease: string }
  | { ok: false; reason: "per-minute" | "streams"; retryAfterMs: number };

interface State {
  /** Start times of the requests admitted in the last minute (a sliding window). */
  recent: number[];
  /** Open streams: lease id → expiry. */
  leases: Record<string, number>;
}

/**
 * One instance per caller (`idFromName(callerId)`): a sliding one-minute request window and
 * a count of open streams. Durable Objects run one call at a time, so check-and-admit is
 * atomic; the state is stored so that an evicted instance forgets no open stream.
 */
export class KeyLimiter extends DurableObject<Env> {
  private state: State = { recent: [], leases: {} };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.state = (await ctx.storage.get<State>("state")) ?? this.state;
    });
  }

  async admit(limits: EffectiveLimits): Promise<Admission> {
    const now = Date.now();
    const recent = this.state.recent.filter((t) => t > now - WINDOW_MS);
    const leases = Object.fromEntries(
      Object.entries(this.state.leases).filter(([, expiry]) => expiry > now),
    );
    let refusal: Admission | undefined;
    if (recent.length >= limits.perMinute) {
      const oldest = recent[recent.length - limits.perMinute] ?? now;
      refusal = { ok: false, reason: "per-minute", retryAfterMs: oldest + WINDOW_MS - now };
    } else if (Object.keys(leases).length >= limits.streams) {
      refusal = { ok: false, reason: "streams", retryAfterMs: STREAMS_RETRY_MS };
    }
    const lease = crypto.randomUUID();
    if (!refusal) {
      recent.push(now);
      leases[lease] = now + LEASE_TTL_MS;
    }
    this.state = { recent, leases };
    // Unconfirmed: the answer need not wait for the disk (a crash may forget a few counts,
    // which a limiter can afford); it roughly halves the edge's added latency locally.
    await this.ctx.storage.put("state", this.state, { allowUnconfirmed: true });
    return refusal ?? { ok: true, lease };
  }

  async release(lease: string): Promise<void> {
    if (!(lease in this.state.leases)) return;
    delete this.state.leases[lease];
    await this.ctx.storage.put("state", this.state, { allowUnconfirmed: true });
  }

  /** Open streams right now (tests and diagnostics). */
  async openStreams(): Promise<number> {
    const now = Date.now();
    return Object.values(this.state.leases).filter((expiry) => expiry > now).length;
  }
}
