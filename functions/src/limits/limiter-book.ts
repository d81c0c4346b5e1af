const WINDOW_MS = 60_000;
/** A lease whose release never came (the Worker died mid-stream) expires after this. */
export const LEASE_TTL_MS = 30 * 60_000;
/** What a caller refused for too many open streams is told to wait. */
const STREAMS_RETRY_MS = 1_000;
/** Spare ids carry this prefix, so a release can tell one whose spare has already expired. */
const SPARE_PREFIX = "spare-";
/**
 * How long a spare counted by its release is remembered, so that its claim, if it comes after,
 * is a no-op: one window, far beyond any delay between two RPCs of one request.
 */
const SETTLED_MS = WINDOW_MS;

export interface EffectiveLimits {
  perMinute: number;
  streams: number;
  /** How long a spare admission lives at the object; 0 grants none. */
  spareTtlMs?: number;
}

export type Admission =
  | {
      ok: true;
      lease: string;
      /** A spare admission for the caller's next request from this isolate, if one was free. */
      spare?: string;
    }
  | { ok: false; reason: "per-minute" | "streams"; retryAfterMs: number };

export interface Claim {
  /** The spare had expired (or was forgotten): the request is counted anyway, over the limits if need be. */
  late: boolean;
  spare?: string;
}

/** What is stored under `state`. */
export interface LimiterState {
  /** Start times of the requests admitted in the last minute (a sliding window), oldest first. */
  recent: number[];
  /** Open streams: lease id → expiry. */
  leases: Record<string, number>;
  /** The one spare admission outstanding, counted as a request and a stream while it lives. */
  spare?: { id: string; expiry: number };
  /** Spares whose release came before their claim: id → when to forget it. */
  settled?: Record<string, number>;
}

/**
 * The counting behind KeyLimiter, with the clock passed in: a sliding one-minute request window,
 * open streams (leases) and spare admissions.
 *
 * A spare is an admission granted ahead of time to the isolate that made a request, for that
 * caller's next request there: the isolate forwards that request at once and claims the spare
 * off the path. While it lives a spare holds a request and a stream slot, so every forwarded
 * request holds a slot reserved here. One is granted only when a stream slot and a request
 * slot stay free beside it, at most one per caller at a time. A claim turns the spare into a
 * lease and counts the request (a request over before its claim went out claims and releases
 * in one call); a release that overtakes the claim counts the request as well and makes the
 * claim a no-op. An unclaimed spare stops counting when it expires.
 */
export class LimiterBook {
  constructor(readonly state: LimiterState = { recent: [], leases: {} }) {}

  /**
   * Admits a request if the limits allow. `instead` is a spare the isolate holds but no longer
   * trusts (too old by its clock): if it still lives here, it becomes this admission.
   */
  admit(limits: EffectiveLimits, now: number, instead?: string): Admission {
    this.prune(now);
    const { recent, spare } = this.state;
    if (instead !== undefined && spare?.id === instead) {
      delete this.state.spare;
      return { ok: true, lease: this.count(instead, now), ...this.grantSpare(limits, now) };
    }
    const spares = spare ? 1 : 0;
    if (recent.length + spares >= limits.perMinute) {
      // Either the window is full (wait for its oldest relevant entry to leave) or only the
      // spare held elsewhere fills it (wait for the spare to be claimed or to expire).
      const oldest = recent[recent.length - limits.perMinute];
      const until = oldest !== undefined ? oldest + WINDOW_MS : (spare?.expiry ?? now);
      return { ok: false, reason: "per-minute", retryAfterMs: Math.max(1, until - now) };
    }
    if (this.openLeases() + spares >= limits.streams) {
      return { ok: false, reason: "streams", retryAfterMs: STREAMS_RETRY_MS };
    }
    return {
      ok: true,
      lease: this.count(crypto.randomUUID(), now),
      ...this.grantSpare(limits, now),
    };
  }

  /**
   * The isolate forwarded a request on `spareId`: it becomes a lease (see LimiterBook), or,
   * `released` when the request has already ended, is counted with no lease left open.
   */
  claim(spareId: string, limits: EffectiveLimits, now: number, released = false): Claim {
    this.prune(now);
    const settled = this.state.settled;
    if (this.state.spare?.id === spareId) {
      delete this.state.spare;
      this.count(spareId, now, released);
      return { late: false, ...this.grantSpare(limits, now) };
    }
    if (spareId in this.state.leases) {
      if (released) delete this.state.leases[spareId];
      return { late: false };
    }
    // Kept until it expires, so that the claim stays a no-op however often it comes.
    if (settled && spareId in settled) return { late: false, ...this.grantSpare(limits, now) };
    // Expired (the isolate stalled past the spare's life, or a restart forgot it): the request
    // is already on its way, so it is counted as it is, even over the limits, which then hold
    // back the requests after it.
    this.count(spareId, now, released);
    return { late: true };
  }

  /** Frees a stream slot; says whether anything changed. */
  release(lease: string, now: number): boolean {
    this.prune(now);
    if (lease in this.state.leases) {
      delete this.state.leases[lease];
      return true;
    }
    const settled = this.state.settled ?? {};
    if (!lease.startsWith(SPARE_PREFIX) || lease in settled) return false;
    // A spare released before its claim arrived (RPCs from different stubs may be reordered),
    // whether it still lives or has expired: its request went through, so it counts.
    if (this.state.spare?.id === lease) delete this.state.spare;
    this.state.recent.push(now);
    settled[lease] = now + SETTLED_MS;
    this.state.settled = settled;
    return true;
  }

  /** Open streams right now, spares included. */
  openStreams(now: number): number {
    this.prune(now);
    return this.openLeases() + (this.state.spare ? 1 : 0);
  }

  /** Requests in the window right now, a spare included. */
  requestsInWindow(now: number): number {
    this.prune(now);
    return this.state.recent.length + (this.state.spare ? 1 : 0);
  }

  /** A request in the window and, unless it has ended already, its open stream. */
  private count(lease: string, now: number, ended = false): string {
    this.state.recent.push(now);
    if (!ended) this.state.leases[lease] = now + LEASE_TTL_MS;
    return lease;
  }

  /** A spare, if none is out and one slot of each kind stays free beside it. */
  private grantSpare(limits: EffectiveLimits, now: number): { spare?: string } {
    const ttl = limits.spareTtlMs ?? 0;
    if (ttl <= 0 || this.state.spare) return {};
    if (this.state.recent.length + 2 > limits.perMinute) return {};
    if (this.openLeases() + 2 > limits.streams) return {};
    const id = `${SPARE_PREFIX}${crypto.randomUUID()}`;
    this.state.spare = { id, expiry: now + ttl };
    return { spare: id };
  }

  private openLeases(): number {
    return Object.keys(this.state.leases).length;
  }

  private prune(now: number): void {
    const { recent, leases, spare, settled } = this.state;
    const expired = recent.findIndex((t) => t > now - WINDOW_MS);
    if (expired !== 0) recent.splice(0, expired === -1 ? recent.length : expired);
    for (const [lease, expiry] of Object.entries(leases)) if (expiry <= now) delete leases[lease];
    if (spare && spare.expiry <= now) delete this.state.spare;
    if (settled) {
      for (const [id, forget] of Object.entries(settled)) if (forget <= now) delete settled[id];
    }
  }
}
