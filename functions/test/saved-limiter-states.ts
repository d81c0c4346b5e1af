import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { deserialize } from "node:v8";
import type { LimiterState } from "../src/limits/limiter-book";

/**
 * What every KeyLimiter has written to disk under `persistTo` (wrangler's local state: one
 * SQLite file per object, the key-value API's rows in `_cf_KV`, values V8-serialised).
 */
export function savedLimiterStates(persistTo: string): LimiterState[] {
  const dir = join(persistTo, "v3", "do", "phi4-edge-KeyLimiter");
  if (!existsSync(dir)) return [];
  const states: LimiterState[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sqlite"))) {
    const db = new DatabaseSync(join(dir, file), { readOnly: true });
    try {
      const row = db.prepare("SELECT value FROM _cf_KV WHERE key = 'state'").get() as
        | { value: Uint8Array }
        | undefined;
      if (row) states.push(deserialize(row.value) as LimiterState);
    } catch {
      // A file the runtime is still creating: nothing saved in it yet.
    } finally {
      db.close();
    }
  }
  return states;
}
