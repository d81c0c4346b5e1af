import type { KeyRecord } from "./key-record";

/** Enough for every key an isolate serves; the oldest entry goes first beyond it. */
const MAX_ENTRIES = 10_000;

interface Entry {
  record: KeyRecord;
  until: number;
}

/**
 * Key records an isolate read from KV in the last `ttlMs`: most requests then skip the KV read
 * (a few ms on the hot path). The price is the revocation bound: an isolate that read a key
 * keeps accepting it for up to `ttlMs` after `npm run keys -- revoke` (KV itself may take up
 * to 60 s to carry a change to every location). Unknown keys are never cached, so a new key
 * works at once.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  get(storageKey: string): KeyRecord | undefined {
    const entry = this.entries.get(storageKey);
    if (!entry) return undefined;
    if (entry.until > this.now()) return entry.record;
    this.entries.delete(storageKey);
    return undefined;
  }

  set(storageKey: string, record: KeyRecord, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.entries.delete(storageKey); // re-inserted last: the Map's order is the eviction order
    this.entries.set(storageKey, { record, until: this.now() + ttlMs });
    if (this.entries.size > MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
