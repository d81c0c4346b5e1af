import { DurableObject } from "cloudflare:workers";
import { createLogger } from "../http/logger";
import {
  type Admission,
  type Claim,
  type EffectiveLimits,
  LimiterBook,
  type LimiterState,
} from "./limiter-book";

/**
 * How long a change may stay in memory only: the most a restart can forget (see KeyLimiter).
 * Far below the 10 s of quiet after which an object may be put to sleep, which the pending
 * write prevents anyway.
 */
export const SAVE_AFTER_MS = 1_000;

const log = createLogger({ service: "limiter" });

/**
 * One instance per caller (`idFromName(callerId)`): a sliding one-minute request window, a
 * count of open streams and the caller's spare admission (LimiterBook). Durable Objects run
 * one call at a time, so check-and-admit is atomic. The counts live in memory and are written
 * at most once per SAVE_AFTER_MS, off the caller's path (a write per request was the largest
 * part of the edge's added latency). An object going idle, being put to sleep or evicted first
 * waits for that write, so it forgets nothing; only an abrupt restart (a deploy, a runtime
 * update, a move) can forget what changed in the last SAVE_AFTER_MS: at most that many
 * admissions (a caller may get that many extra requests or streams, never more than one
 * window's limit) and releases (that many leases come back and hold a stream slot until the
 * stream's next release or LEASE_TTL_MS, 30 min); a spare it forgot is counted when claimed.
 *
 * Spares take this object off the path of a caller's next request from the same isolate, and
 * never let more through: each holds a reserved slot. Their price is false refusals: while an
 * isolate holds a spare (at most the spare's life, LIMITER_SPARE_MS), a request of the same
 * caller arriving through another isolate sees one slot fewer. Spares are granted only with
 * a slot of each kind free beside them, so this only bites a caller one slot from a limit;
 * such a refusal says Retry-After: the spare's remaining life (per-minute) or 1 s (streams).
 */
export class KeyLimiter extends DurableObject<Env> {
  private book = new LimiterBook();
  private saving: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<LimiterState>("state");
      if (saved) this.book = new LimiterBook(saved);
    });
  }

  /** See LimiterBook.admit. */
  admit(limits: EffectiveLimits, instead?: string): Admission {
    const admission = this.book.admit(limits, Date.now(), instead);
    if (admission.ok) this.saveSoon();
    return admission;
  }

  /** See LimiterBook.claim. */
  claim(spare: string, limits: EffectiveLimits, released = false): Claim {
    const claim = this.book.claim(spare, limits, Date.now(), released);
    // Only an isolate stalled past half a spare's life, or a restart, leads here.
    if (claim.late) log.warn({ spare }, "late claim: spare expired, request counted anyway");
    this.saveSoon();
    return claim;
  }

  release(lease: string): void {
    if (this.book.release(lease, Date.now())) this.saveSoon();
  }

  /** Open streams right now, a spare included (tests and diagnostics). */
  openStreams(): number {
    return this.book.openStreams(Date.now());
  }

  /** One write for every change in the next SAVE_AFTER_MS. */
  private saveSoon(): void {
    if (this.saving) return;
    this.saving = setTimeout(() => {
      this.saving = undefined;
      // Unconfirmed: no caller waits for this write, and none should wait behind it either.
      this.ctx.storage.put("state", this.book.state, { allowUnconfirmed: true });
    }, SAVE_AFTER_MS);
  }
}
