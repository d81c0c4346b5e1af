import type { MiddlewareHandler } from "hono";
import type { EdgeEnv } from "../edge-env";

import { EdgeError } from "../http/edge-error";
import { API_KEY_PATTERN, keyId, storageKey } from "./api-key";
import { jwtVerifier, looksLikeJwt } from "./jwt-verifier";
import { KeyCache } from "./key-cache";
import { KeyRecord } from "./key-record";

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const verifiers = new Map<string, ReturnType<typeof jwtVerifier>>();
const keyCache = new KeyCache();

/**
 * Accepts `Authorization: Bearer <API key>` (looked up by hash in KEYS, and then kept in the
 * isolate for KEY_CACHE_MS) or, when a JWKS URL is
 * configured, `Bearer <JWT>`. Anything else is a 401 before any call to the runner.
 */
export function authenticate(): MiddlewareHandler<EdgeEnv> {
  return async function authenticate(c, next) {
    const config = c.get("config");
    const header = c.req.header("authorization");
    if (!header) throw new EdgeError("UNAUTHORIZED", "missing Authorization: Bearer <API key>");
    const token = BEARER.exec(header)?.[1];
    if (!token) throw new EdgeError("UNAUTHORIZED", "malformed Authorization header");

    if (API_KEY_PATTERN.test(token)) {
      const key = await storageKey(token);
      let record = keyCache.get(key);
      if (!record) {
        const { value, metadata } = await config.KEYS.getWithMetadata(key);
        const parsed = KeyRecord.safeParse(metadata);
        if (value === null || !parsed.success) {
          throw new EdgeError("UNAUTHORIZED", "unknown API key");
        }
        record = parsed.data;
        keyCache.set(key, record, config.KEY_CACHE_MS);
      }
      if (record.revoked) throw new EdgeError("UNAUTHORIZED", "API key revoked");
      c.set("caller", { id: keyId(key), kind: "key", limits: record.limits ?? {} });
      return next();
    }

    if (config.JWT_JWKS_URL && looksLikeJwt(token)) {
      let verify = verifiers.get(config.JWT_JWKS_URL);
      if (!verify) {
        verify = jwtVerifier({
          jwksUrl: config.JWT_JWKS_URL,
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
        });
        verifiers.set(config.JWT_JWKS_URL, verify);
      }
      let subject: string;
      try {
        subject = String((await verify(token)).sub);
      } catch (error) {
        throw new EdgeError("UNAUTHORIZED", "invalid token", { cause: error });
      }
      c.set("caller", { id: `jwt:${subject}`, kind: "jwt", limits: {} });
      return next();
    }
    throw new EdgeError("UNAUTHORIZED", "malformed credentials: expected an API key");
  };
}
