/**
 * API keys: `phi4_` + 32 random bytes (base64url). Only their SHA-256 is stored, under
 * `key:<hex>` in the KEYS namespace, with a KeyRecord as metadata.
 */
export const API_KEY_PATTERN = /^phi4_[A-Za-z0-9_-]{43}$/;
export const KEY_PREFIX = "key:";

/** A new random key; shown to its owner once and never stored. */
export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const base64 = btoa(String.fromCharCode(...bytes));
  return `phi4_${base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

/** The KV key under which an API key's record lives. */
export async function storageKey(apiKey: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(apiKey));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${KEY_PREFIX}${hex}`;
}

/** A short public id derived from the hash: what logs and the runner see (`x-phi4-caller`). */
export function keyId(storage: string): string {
  return `k_${storage.slice(KEY_PREFIX.length, KEY_PREFIX.length + 12)}`;
}
