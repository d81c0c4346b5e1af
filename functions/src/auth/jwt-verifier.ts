import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";

export interface JwtOptions {
  jwksUrl: string;
  issuer?: string;
  audience?: string;
}

export type JwtVerifier = (token: string) => Promise<JWTPayload>;

const JWT_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function looksLikeJwt(token: string): boolean {
  return JWT_PATTERN.test(token);
}

/**
 * Verifies bearer JWTs against a JWKS (fetched and cached by jose), issuer and audience.
 * Throws on anything invalid; the caller turns that into a 401.
 */
export function jwtVerifier(options: JwtOptions): JwtVerifier {
  const keys = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5_000 });
  return async (token) => {
    const { payload } = await jwtVerify(token, keys, {
      issuer: options.issuer,
      audience: options.audience,
    });
    if (!payload.sub) throw new Error("token has no subject");
    return payload;
  };
}
