import { describe, expect, it } from "vitest";
import { KeyCache } from "./key-cache";
import type { KeyRecord } from "./key-record";

const record: KeyRecord = { id: "k_1", name: "a", created: "2026-12-01T00:00:00Z" };

describe("KeyCache", () => {
  it("serves a record for ttlMs, then forgets it", () => {
    let now = 1_000;
    const cache = new KeyCache(() => now);
    cache.set("key:a", record, 5_000);
    expect(cache.get("key:a")).toEqual(record);
    now += 4_999;
    expect(cache.get("key:a")).toEqual(record);
    now += 1;
    expect(cache.get("key:a")).toBeUndefined();
  });

  it("caches nothing with a ttl of 0", () => {
    const cache = new KeyCache();
    cache.set("key:a", record, 0);
    expect(cache.get("key:a")).toBeUndefined();
  });

  it("holds at most 10,000 keys, dropping the oldest", () => {
    const cache = new KeyCache(() => 0);
    for (let i = 0; i <= 10_000; i++) cache.set(`key:${i}`, record, 1_000);
    expect(cache.get("key:0")).toBeUndefined();
    expect(cache.get("key:1")).toEqual(record);
    expect(cache.get("key:10000")).toEqual(record);
  });
});
