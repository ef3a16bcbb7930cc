// Reading a realtime token's claims without verifying it. Tokens minted by
// realtime::token are "<base64url JSON payload>.<base64url signature>" with
// the payload {"app", "topics", "exp", "iat"} (times in Unix seconds). Only
// the server can check the signature; the client reads `exp` to fetch a new
// token before the old one runs out.

export interface RealtimeTokenClaims {
  app?: string;
  topics?: string[];
  /** Expiry, Unix seconds. */
  exp?: number;
  /** Issued at, Unix seconds. */
  iat?: number;
  [claim: string]: unknown;
}

function base64UrlDecode(text: string): string {
  let b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  while (b64.length % 4) b64 += "=";
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/** The token's payload, or null when it is not of that form. Not verified. */
export function tokenClaims(token: string): RealtimeTokenClaims | null {
  const parts = token.split(".");
  // "<payload>.<signature>"; a JWT-like "<header>.<payload>.<signature>" is read too.
  const payload = parts.length === 2 ? parts[0] : parts.length === 3 ? parts[1] : undefined;
  if (!payload) return null;
  try {
    const value: unknown = JSON.parse(base64UrlDecode(payload));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as RealtimeTokenClaims) : null;
  } catch {
    return null;
  }
}

/**
 * When the token expires, as a Date, read from its `exp` claim without
 * verifying it; null when the token has no readable `exp`.
 */
export function tokenExpiry(token: string): Date | null {
  const exp = tokenClaims(token)?.exp;
  return typeof exp === "number" && Number.isFinite(exp) ? new Date(exp * 1000) : null;
}

/** True when the token expires within `marginMs` (default 0) from now. Unreadable tokens are not expired. */
export function tokenExpiresWithin(token: string, marginMs = 0, now: number = Date.now()): boolean {
  const expiry = tokenExpiry(token);
  return expiry !== null && expiry.getTime() - marginMs <= now;
}
