// HS256 JWTs (jose). Claims: sub = user id (uuid), role = athlete | coach | analyst | admin (default athlete).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { jwtVerify, SignJWT, errors as joseErrors } from 'jose';
import { unauthenticated } from './errors.ts';

export const ROLES = ['ATHLETE', 'COACH', 'ANALYST', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];

export interface Viewer {
  id: string;
  role: Role;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseRole(raw: unknown): Role | null {
  if (raw === undefined || raw === null) return 'ATHLETE';
  if (typeof raw !== 'string') return null;
  const upper = raw.toUpperCase();
  return (ROLES as readonly string[]).includes(upper) ? (upper as Role) : null;
}

/** Verified tokens are remembered (until they expire) so a client's repeated operations skip the HMAC check. */
const VERIFIED_CACHE_SIZE = 50_000;

export class TokenService {
  private readonly key: Uint8Array;
  private readonly verified = new Map<string, { viewer: Viewer; expiresAt: number }>();

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(viewer: { sub: string; role: string }, expiresIn: string = '30d'): Promise<string> {
    if (!UUID.test(viewer.sub)) throw new Error(`sub must be a uuid (got "${viewer.sub}")`);
    const role = parseRole(viewer.role);
    if (!role) throw new Error(`role must be one of ${ROLES.join(', ').toLowerCase()} (got "${viewer.role}")`);
    return new SignJWT({ role: role.toLowerCase() })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(viewer.sub)
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(this.key);
  }

  /** Parses "Bearer <jwt>"; null when absent; throws UNAUTHENTICATED when present but invalid. */
  async viewerFromAuthorization(header: string | null | undefined): Promise<Viewer | null> {
    if (!header) return null;
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match) throw unauthenticated('Authorization must be "Bearer <token>"');
    const known = this.verified.get(match[1]);
    if (known && known.expiresAt > Date.now()) return known.viewer;
    let payload;
    try {
      ({ payload } = await jwtVerify(match[1], this.key, { algorithms: ['HS256'] }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthenticated('Token expired');
      throw unauthenticated('Invalid token');
    }
    if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) throw unauthenticated('Token sub must be a user id (uuid)');
    const role = parseRole(payload.role);
    if (!role) throw unauthenticated(`Token role must be one of ${ROLES.join(', ').toLowerCase()}`);
    const viewer: Viewer = { id: payload.sub.toLowerCase(), role };
    if (typeof payload.exp === 'number') {
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
      this.verified.set(match[1], { viewer, expiresAt: payload.exp * 1000 });
    }
    return viewer;
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
  await writeFile(file, secret + '\n', { mode: 0o600 });
  return { secret, generated: true };
}
