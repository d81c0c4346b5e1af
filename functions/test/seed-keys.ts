import { kvStore } from "../scripts/kv-store";
import { generateApiKey, keyId, storageKey } from "../src/auth/api-key";
import type { KeyRecord, Limits } from "../src/auth/key-record";

export interface SeedKey {
  name: string;
  limits?: Limits;
  revoked?: boolean;
}

/** Writes keys into the local KEYS state under `persistTo` in one wrangler call; returns them by name. */
export async function seedKeys(
  persistTo: string,
  keys: SeedKey[],
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = [];
  for (const seed of keys) {
    const apiKey = generateApiKey();
    const key = await storageKey(apiKey);
    const record: KeyRecord = {
      id: keyId(key),
      name: seed.name,
      created: new Date().toISOString(),
    };
    if (seed.limits) record.limits = seed.limits;
    if (seed.revoked) record.revoked = new Date().toISOString();
    entries.push({ key, value: JSON.stringify(record), metadata: record });
    out[seed.name] = apiKey;
  }
  await kvStore({ where: "local", persistTo }).putMany(entries);
  return out;
}
