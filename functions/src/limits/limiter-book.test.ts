import { describe, expect, it } from "vitest";
import { type Admission, type EffectiveLimits, LimiterBook } from "./limiter-book";

const TTL = 5_000;
const limits = (perMinute: number, streams: number): EffectiveLimits => ({
  perMinute,
  streams,
  spareTtlMs: TTL,
});

function admitted(admission: Admission) {
  if (!admission.ok) throw new Error(`refused: ${admission.reason}`);
  return admission;
}

describe("LimiterBook spares", () => {
  it("grants one with an admission only while a slot of each kind stays free beside it", () => {
    const book = new LimiterBook();
    const first = admitted(book.admit(limits(100, 3), 0));
    expect(first.spare).toBeDefined(); // 1 lease + 1 spare, 1 stream slot left
    expect(book.openStreams(0)).toBe(2);
    // The claim makes it a lease; a new spare would leave no stream slot free.
    expect(book.claim(first.spare!, limits(100, 3), 0)).toEqual({ late: false });
    expect(book.openStreams(0)).toBe(2);
    // The same by the minute: 1 request + 1 spare + 1 free.
    const perMinute = new LimiterBook();
    const one = admitted(perMinute.admit(limits(3, 100), 0));
    expect(one.spare).toBeDefined();
    expect(perMinute.claim(one.spare!, limits(3, 100), 0)).toEqual({ late: false });
    expect(admitted(new LimiterBook().admit(limits(2, 100), 0)).spare).toBeUndefined();
    // None when spares are off.
    expect(admitted(new LimiterBook().admit({ perMinute: 9, streams: 9 }, 0)).spare).toBe(
      undefined,
    );
  });

  it("has at most one out per caller", () => {
    const book = new LimiterBook();
    expect(admitted(book.admit(limits(100, 100), 0)).spare).toBeDefined();
    expect(admitted(book.admit(limits(100, 100), 0)).spare).toBeUndefined();
    expect(book.openStreams(0)).toBe(3);
  });

  it("a burst through one isolate living on spares gets exactly the per-minute limit", () => {
    const book = new LimiterBook();
    const limit = limits(7, 100);
    let spare: string | undefined;
    let through = 0;
    let refusal: Admission | undefined;
    for (let i = 0; i < 12; i++) {
      const now = i * 10;
      if (spare) {
        const taken = spare;
        spare = book.claim(taken, limit, now).spare;
        through++;
        continue;
      }
      const admission = book.admit(limit, now);
      if (!admission.ok) {
        refusal = admission;
        break;
      }
      through++;
      spare = admission.spare;
    }
    expect(through).toBe(7);
    expect(refusal).toMatchObject({ ok: false, reason: "per-minute" });
    expect(refusal?.ok === false && refusal.retryAfterMs).toBe(60_000 - 70);
  });

  it("an unclaimed spare stops counting when it expires, and a late claim still counts", () => {
    const book = new LimiterBook();
    const limit = limits(100, 3);
    const first = admitted(book.admit(limit, 0));
    admitted(book.admit(limit, 0)); // another isolate: 2 leases + the spare = 3
    const refused = book.admit(limit, TTL - 1);
    expect(refused).toMatchObject({ ok: false, reason: "streams", retryAfterMs: 1_000 });
    expect(book.openStreams(TTL - 1)).toBe(3);
    expect(book.openStreams(TTL)).toBe(2);
    expect(book.requestsInWindow(TTL)).toBe(2);
    const third = admitted(book.admit(limit, TTL));
    // The isolate that held the first spare stalled: its claim comes now, and counts.
    expect(book.claim(first.spare!, limit, TTL + 1)).toEqual({ late: true });
    expect(book.openStreams(TTL + 1)).toBe(4);
    expect(book.requestsInWindow(TTL + 1)).toBe(4);
    book.release(third.lease, TTL + 2);
    expect(book.admit(limit, TTL + 2)).toMatchObject({ ok: false, reason: "streams" });
    book.release(first.spare!, TTL + 3);
    expect(book.openStreams(TTL + 3)).toBe(2);
  });

  it("a refusal caused only by a spare held elsewhere waits for that spare", () => {
    const book = new LimiterBook();
    const limit = limits(3, 100);
    admitted(book.admit(limit, 0)); // 1 request + the spare
    admitted(book.admit(limit, 1_000)); // 2 + the spare = 3
    expect(book.admit(limit, 2_000)).toEqual({
      ok: false,
      reason: "per-minute",
      retryAfterMs: TTL - 2_000,
    });
    expect(admitted(book.admit(limit, TTL)).ok).toBe(true);
  });

  it("a release that overtakes its claim counts the request and frees the slot; the claim is a no-op", () => {
    const book = new LimiterBook();
    const limit = limits(100, 4);
    const first = admitted(book.admit(limit, 0));
    book.release(first.lease, 1);
    expect(book.release(first.spare!, 2)).toBe(true);
    expect(book.requestsInWindow(2)).toBe(2); // two requests went through
    expect(book.openStreams(2)).toBe(0);
    const claim = book.claim(first.spare!, limit, 3);
    expect(claim.late).toBe(false);
    expect(book.openStreams(3)).toBe(claim.spare ? 1 : 0);
    expect(book.requestsInWindow(3)).toBe(2 + (claim.spare ? 1 : 0));
    // Released twice: counted once.
    expect(book.release(first.spare!, 4)).toBe(false);
    expect(book.requestsInWindow(4)).toBe(2 + (claim.spare ? 1 : 0));
  });

  it("a release of a spare that expired before its claim still counts the request", () => {
    const book = new LimiterBook();
    const limit = limits(100, 4);
    const first = admitted(book.admit(limit, 0));
    book.release(first.lease, 1);
    book.release(first.spare!, TTL + 1);
    expect(book.requestsInWindow(TTL + 1)).toBe(2);
    const claim = book.claim(first.spare!, limit, TTL + 2);
    expect(claim.late).toBe(false);
    expect(book.openStreams(TTL + 2)).toBe(claim.spare ? 1 : 0);
  });

  it("a claim with the release folded in counts the request and leaves no stream open", () => {
    const book = new LimiterBook();
    const limit = limits(100, 4);
    const first = admitted(book.admit(limit, 0));
    book.release(first.lease, 1);
    const claim = book.claim(first.spare!, limit, 2, true);
    expect(claim.late).toBe(false);
    expect(book.requestsInWindow(2)).toBe(2 + (claim.spare ? 1 : 0));
    expect(book.openStreams(2)).toBe(claim.spare ? 1 : 0);
    // Late, it still counts the request, and opens nothing.
    const late = book.claim(claim.spare!, limit, 2 + TTL, true);
    expect(late).toEqual({ late: true });
    expect(book.requestsInWindow(2 + TTL)).toBe(3);
    expect(book.openStreams(2 + TTL)).toBe(0);
  });

  it("a spare handed back with an admit becomes that admission, whatever the limits", () => {
    const book = new LimiterBook();
    const first = admitted(book.admit(limits(100, 3), 0));
    admitted(book.admit(limits(100, 3), 0)); // streams full: 2 leases + the spare
    const again = admitted(book.admit(limits(100, 3), 3_000, first.spare));
    expect(again.lease).toBe(first.spare);
    expect(book.openStreams(3_000)).toBe(3);
    // Once it has expired it is an ordinary admission.
    const book2 = new LimiterBook();
    const spare = admitted(book2.admit(limits(100, 3), 0)).spare!;
    expect(admitted(book2.admit(limits(100, 3), TTL, spare)).lease).not.toBe(spare);
  });
});

describe("LimiterBook under several isolates and reordered RPCs", () => {
  // A small deterministic PRNG, so a failure replays.
  function random(seed: number) {
    let s = seed >>> 0;
    return () => {
      s = (s * 1_664_525 + 1_013_904_223) >>> 0;
      return s / 2 ** 32;
    };
  }

  it.each([1, 2, 3, 4, 5])("never lets more than the limits through (seed %i)", (seed) => {
    const rand = random(seed);
    const book = new LimiterBook();
    const limit = limits(60, 5);
    const isolates = [0, 1, 2].map(() => ({ spare: undefined as string | undefined, at: 0 }));
    /** RPCs sent but not delivered yet: any order, each within MAX_DELAY of being sent. */
    const MAX_DELAY = 1_000;
    let inFlight: { sent: number; deliver: () => void }[] = [];
    const deliverOne = () => inFlight.splice(Math.floor(rand() * inFlight.length), 1)[0]?.deliver();
    /** Claims not sent yet, by lease. */
    const held = new Map<string, { since: number; claim: (released: boolean) => () => void }>();
    /** Requests forwarded to the runner and not yet ended. */
    const open = new Set<string>();
    const forwardedAt: number[] = [];
    let spares = 0;
    const refused = { streams: 0, "per-minute": 0 };
    let now = 0;
    for (let step = 0; step < 3_000; step++) {
      now += Math.floor(rand() * 400);
      while (inFlight.some((rpc) => rpc.sent < now - MAX_DELAY)) {
        const due = inFlight.filter((rpc) => rpc.sent < now - MAX_DELAY);
        inFlight = inFlight.filter((rpc) => !due.includes(rpc));
        for (const rpc of due.sort(() => rand() - 0.5)) rpc.deliver();
      }
      for (const [lease, claim] of held) {
        if (claim.since < now - MAX_DELAY / 2 || rand() < 0.05) {
          held.delete(lease);
          inFlight.push({ sent: now, deliver: claim.claim(false) });
        }
      }
      const pick = rand();
      if (pick < 0.3) {
        const isolate = isolates[Math.floor(rand() * isolates.length)]!;
        let lease: string | undefined;
        if (isolate.spare && now - isolate.at < TTL / 2) {
          lease = isolate.spare;
          isolate.spare = undefined;
          spares++;
          const taken = lease;
          const claim = (released: boolean) => () => {
            const answer = book.claim(taken, limit, now, released);
            expect(answer.late).toBe(false);
            if (answer.spare) Object.assign(isolate, { spare: answer.spare, at: now });
          };
          // Sent at once, or held back until the request ends (then with its release) or
          // until a timer fires.
          if (rand() < 0.5) inFlight.push({ sent: now, deliver: claim(false) });
          else held.set(taken, { since: now, claim });
        } else {
          const stale = isolate.spare;
          isolate.spare = undefined;
          const admission = book.admit(limit, now, stale);
          if (!admission.ok) refused[admission.reason]++;
          if (admission.ok) {
            lease = admission.lease;
            if (admission.spare) Object.assign(isolate, { spare: admission.spare, at: now });
          }
        }
        if (lease) {
          open.add(lease);
          forwardedAt.push(now);
          expect(open.size).toBeLessThanOrEqual(5);
          expect(forwardedAt.filter((t) => t > now - 60_000).length).toBeLessThanOrEqual(60);
        }
      } else if (pick < 0.55 && open.size > 0) {
        const lease = [...open][Math.floor(rand() * open.size)]!;
        open.delete(lease);
        const claim = held.get(lease);
        held.delete(lease);
        if (claim) inFlight.push({ sent: now, deliver: claim.claim(true) });
        else inFlight.push({ sent: now, deliver: () => book.release(lease, now) });
      } else {
        deliverOne();
      }
    }
    // Spares were in play, and both limits were reached.
    expect(spares).toBeGreaterThan(30);
    expect(refused.streams).toBeGreaterThan(0);
    expect(refused["per-minute"]).toBeGreaterThan(0);
    for (const lease of open) {
      const claim = held.get(lease);
      if (claim) claim.claim(true)();
      else book.release(lease, now);
    }
    held.clear();
    while (inFlight.length) deliverOne();
    // Every slot came back but the one spare that may still be out.
    expect(book.openStreams(now)).toBe(book.state.spare ? 1 : 0);
  });
});
