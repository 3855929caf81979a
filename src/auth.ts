// HS256 JWTs (jose). Claims: sub = user id (uuid), role = athlete | coach | analyst | admin (default athlete),
// exp required, lifetime capped (TOKEN_MAX_LIFETIME_SECONDS).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeJwt, jwtVerify, SignJWT, errors as joseErrors, type JWTPayload } from 'jose';
import { unauthenticated } from './errors.ts';

export const ROLES = ['ATHLETE', 'COACH', 'ANALYST', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];
/** The role claim as minted: lowercase, matched exactly ("ADMIN" is not a role claim). */
const ROLE_CLAIMS = ROLES.map((r) => r.toLowerCase());

export interface Viewer {
  id: string;
  role: Role;
}

/** A verified token: who it speaks for, and until when (ms since epoch). */
export interface Authenticated {
  viewer: Viewer;
  expiresAt: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseRole(raw: unknown): Role | null {
  if (raw === undefined || raw === null) return 'ATHLETE';
  return typeof raw === 'string' && ROLE_CLAIMS.includes(raw) ? (raw.toUpperCase() as Role) : null;
}

/** Verified tokens are remembered (until they expire) so a client's repeated operations skip the HMAC check. */
const VERIFIED_CACHE_SIZE = 50_000;

export class TokenService {
  private readonly key: Uint8Array;
  private readonly verified = new Map<string, Authenticated>();

  /** maxLifetimeSeconds: longer-lived tokens are neither minted nor accepted (TOKEN_MAX_LIFETIME_SECONDS). */
  constructor(
    secret: string,
    readonly maxLifetimeSeconds: number = 30 * 86_400,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  /** expiresIn: a jose duration ("8h", "30d") or seconds; default the maximum lifetime. */
  async sign(viewer: { sub: string; role: string }, expiresIn: string | number = this.maxLifetimeSeconds): Promise<string> {
    if (!UUID.test(viewer.sub)) throw new Error(`sub must be a uuid (got "${viewer.sub}")`);
    if (!parseRole(viewer.role)) throw new Error(`role must be one of ${ROLE_CLAIMS.join(', ')} (got "${viewer.role}")`);
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ role: viewer.role })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(viewer.sub)
      .setIssuedAt(now)
      .setExpirationTime(typeof expiresIn === 'number' ? now + expiresIn : expiresIn)
      .sign(this.key);
    const { exp } = decodeJwt(token);
    if (exp! - now > this.maxLifetimeSeconds) {
      throw new Error(`expiry ${expiresIn} is longer than the maximum token lifetime of ${this.maxLifetimeSeconds} s (TOKEN_MAX_LIFETIME_SECONDS)`);
    }
    if (exp! <= now) throw new Error(`expiry ${expiresIn} is not in the future`);
    return token;
  }

  /** Parses "Bearer <jwt>"; null when absent; throws UNAUTHENTICATED when present but invalid. */
  async authenticate(header: string | null | undefined): Promise<Authenticated | null> {
    if (!header) return null;
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match) throw unauthenticated('Authorization must be "Bearer <token>"');
    const known = this.verified.get(match[1]);
    if (known && known.expiresAt > Date.now()) return known;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1], this.key, { algorithms: ['HS256'], requiredClaims: ['exp'] }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthenticated('Token expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'exp') throw unauthenticated('Token must carry an expiry (exp)');
      throw unauthenticated('Invalid token');
    }
    const exp = payload.exp!;
    const now = Math.floor(Date.now() / 1000);
    // A token issued "in the future" counts from now, so a far-future iat cannot stretch the lifetime.
    if (exp - Math.min(now, payload.iat ?? now) > this.maxLifetimeSeconds) {
      throw unauthenticated(`Token lifetime is longer than the maximum of ${this.maxLifetimeSeconds} s`);
    }
    if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) throw unauthenticated('Token sub must be a user id (uuid)');
    const role = parseRole(payload.role);
    if (!role) throw unauthenticated(`Token role must be one of ${ROLE_CLAIMS.join(', ')}`);
    const authenticated: Authenticated = { viewer: { id: payload.sub.toLowerCase(), role }, expiresAt: exp * 1000 };
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
    this.verified.set(match[1], authenticated);
    return authenticated;
  }
}

/**
 * JWT_SECRET, or (development only) a secret generated once into the data dir so tokens survive restarts.
 * Returns whether it was generated so the server can print a ready token.
 */
export async function resolveJwtSecret(configured: string | null, dataDir: string): Promise<{ secret: string; generated: boolean }> {
  if (configured) return { secret: configured, generated: false };
  const file = path.join(dataDir, 'jwt-secret');
  const existing = await readFile(file, 'utf8').catch(() => null);
  if (existing && existing.trim().length >= 32) return { secret: existing.trim(), generated: true };
  const secret = randomBytes(32).toString('base64url');
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return { secret, generated: true };
}
