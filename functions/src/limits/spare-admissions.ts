/** Enough for every caller an isolate serves at once; the oldest spare goes first beyond it. */
const MAX_ENTRIES = 10_000;

interface Held {
  id: string;
  /** When it reached this isolate, by this isolate's clock. */
  at: number;
}

export interface Taken {
  /** A spare young enough to forward on without asking the limiter. */
  fresh?: string;
  /** A spare too old to trust: hand it back with the next admit, which may still use it. */
  stale?: string;
}

/**
 * The spare admissions an isolate holds, at most one per caller (see LimiterBook). A spare
 * lives `ttlMs` at the limiter from before it reached the isolate; the isolate uses it only
 * for the first half of that by its own clock, which leaves the other half for the trip there,
 * the claim's trip back and a stalled isolate.
 */
export class SpareAdmissions {
  private readonly held = new Map<string, Held>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes the caller's spare, if any, out of the isolate. */
  take(caller: string, ttlMs: number): Taken {
    const held = this.held.get(caller);
    if (!held || ttlMs <= 0) return {};
    this.held.delete(caller);
    const age = this.now() - held.at;
    if (age < ttlMs / 2) return { fresh: held.id };
    // Past its whole life it is gone at the limiter too: nothing to hand back.
    return age < ttlMs ? { stale: held.id } : {};
  }

  keep(caller: string, id: string): void {
    this.held.delete(caller); // re-inserted last: the Map's order is the eviction order
    this.held.set(caller, { id, at: this.now() });
    if (this.held.size > MAX_ENTRIES) {
      const oldest = this.held.keys().next().value;
      if (oldest !== undefined) this.held.delete(oldest);
    }
  }
}
