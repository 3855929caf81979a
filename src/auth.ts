// JWTs (jose): HS256 with JWT_SECRET (and JWT_SECRET_PREVIOUS during a rotation), and RS256 / ES256 against an
// identity provider's published keys (JWT_JWKS_URL). Claims: sub = the user (a uuid is the user's id; any other
// sub maps to a stable uuid, userIdForSubject), the role at JWT_ROLE_CLAIM (any case; JWT_DEFAULT_ROLE when left
// out), exp required, lifetime capped (TOKEN_MAX_LIFETIME_SECONDS); iss / aud checked when JWT_ISSUER / JWT_AUDIENCE.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config } from './config.ts';
import { unauthenticated } from './errors.ts';

export const ROLES = ['ATHLETE', 'COACH', 'ANALYST', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];
/** The role claim as minted (lowercase); any case is accepted ("ADMIN", "Admin"). */
const ROLE_CLAIMS = ROLES.map((r) => r.toLowerCase());
/** The algorithms of an identity provider's keys (JWT_JWKS_URL). */
export const JWKS_ALGORITHMS = ['RS256', 'ES256'] as const;

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

/** The namespace of user ids derived from a provider's `sub` (UUID version 5, RFC 9562 section 5.5). */
export const SUBJECT_NAMESPACE = '6f1f3c2a-52e4-4d0b-9a51-3b1e0c7d2a90';

/**
 * The user id a token's `sub` speaks for: a uuid is the id itself (lowercased); anything else (Auth0's
 * "auth0|abc", Cognito's or Keycloak's ids, an email) maps to the UUID v5 of that exact string in
 * SUBJECT_NAMESPACE, so the same `sub` is always the same user.
 */
export function userIdForSubject(sub: string): string {
  if (UUID.test(sub)) return sub.toLowerCase();
  const namespace = Buffer.from(SUBJECT_NAMESPACE.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(namespace).update(sub, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8]! & 0x3f) | 0x80; // RFC variant
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** One role claim value, any case ("athlete", "ATHLETE"); null for anything else. */
function roleNamed(raw: unknown): Role | null {
  if (typeof raw !== 'string') return null;
  const role = raw.toUpperCase();
  return (ROLES as readonly string[]).includes(role) ? (role as Role) : null;
}

/**
 * The role a claim value names: a string (any case), or a list of roles (Keycloak's realm_access.roles, Cognito's
 * groups) where the most privileged known one wins and other entries are ignored. 'missing' when the claim is
 * absent (or a list naming no role); null when it names something that is not a role.
 */
export function parseRole(raw: unknown): Role | 'missing' | null {
  if (raw === undefined || raw === null) return 'missing';
  if (Array.isArray(raw)) {
    const named = raw.map(roleNamed).filter((r): r is Role => r !== null);
    if (!named.length) return 'missing';
    return named.reduce((a, b) => (ROLES.indexOf(b) > ROLES.indexOf(a) ? b : a));
  }
  return roleNamed(raw);
}

/**
 * The value at a claim path: the whole path as one claim name first (Auth0's namespaced
 * "https://climbiq.example/role", Cognito's "cognito:groups"), otherwise a dot path into nested objects
 * ("app_metadata.role", "realm_access.roles").
 */
export function claimAt(payload: Record<string, unknown>, claimPath: string): unknown {
  if (Object.hasOwn(payload, claimPath)) return payload[claimPath];
  let value: unknown = payload;
  for (const key of claimPath.split('.')) {
    // Own properties only: a path like "constructor" or "__proto__" finds nothing.
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * The claims that put `role` where claimAt finds it: nested along a dot path ("app_metadata.role"), or as one claim
 * when the path is a URL or a name like "cognito:groups".
 */
function roleClaims(claimPath: string, role: string): Record<string, unknown> {
  if (/[:/]/.test(claimPath)) return { [claimPath]: role };
  return claimPath.split('.').reduceRight<unknown>((value, key) => ({ [key]: value }), role) as Record<string, unknown>;
}

export interface TokenOptions {
  /** Longer-lived tokens are neither minted nor accepted (TOKEN_MAX_LIFETIME_SECONDS). Default 30 days. */
  maxLifetimeSeconds?: number;
  /** Also accepted for HS256 during a rotation (JWT_SECRET_PREVIOUS); never used to mint. */
  previousSecret?: string | null;
  /** The identity provider's JWKS (JWT_JWKS_URL): RS256 / ES256 tokens are verified against its keys. */
  jwksUrl?: string | null;
  /** After a fetch, a token with an unknown kid refetches the keys only once this many seconds have passed (default 30). */
  jwksCooldownSeconds?: number;
  /** Required `iss` (JWT_ISSUER); minted tokens carry it. */
  issuer?: string | null;
  /** `aud` must include one of these (JWT_AUDIENCE); minted tokens carry the first. */
  audience?: string[];
  /** Where the role is (JWT_ROLE_CLAIM, default "role"). */
  roleClaim?: string;
  /** The role of a token without one (JWT_DEFAULT_ROLE, default ATHLETE); null: such a token is refused. */
  defaultRole?: Role | null;
  /** Told when the identity provider's keys could not be fetched (at most once a minute). */
  log?: (msg: string) => void;
}

/** What the server accepts, in one line for the startup log (no secrets). */
export function describeTokens(options: TokenOptions, hasSecret: boolean): string {
  const accepted = [
    ...(hasSecret ? [`HS256 (JWT_SECRET${options.previousSecret ? ' and JWT_SECRET_PREVIOUS' : ''})`] : []),
    ...(options.jwksUrl ? [`RS256 / ES256 with the keys at ${options.jwksUrl}`] : []),
  ];
  const role = `role at "${options.roleClaim ?? 'role'}", ${options.defaultRole === null ? 'required' : `default ${(options.defaultRole ?? 'ATHLETE').toLowerCase()}`}`;
  const checks = [options.issuer ? `issuer ${options.issuer}` : null, options.audience?.length ? `audience ${options.audience.join(' or ')}` : null].filter(Boolean);
  return `[AUTH] tokens: ${accepted.join('; ') || 'none'}; ${role}${checks.length ? `; ${checks.join(', ')}` : ''}`;
}

/** The token settings of the configuration (JWT_*, TOKEN_MAX_LIFETIME_SECONDS). */
export function tokenOptions(config: Config): TokenOptions {
  return {
    maxLifetimeSeconds: config.tokenMaxLifetimeSeconds,
    previousSecret: config.jwtSecretPrevious,
    jwksUrl: config.jwtJwksUrl,
    jwksCooldownSeconds: config.jwtJwksCooldownSeconds,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    roleClaim: config.jwtRoleClaim,
    defaultRole: config.jwtDefaultRole,
  };
}

const expiredTokenErrors = new WeakSet<Error>();
const tokenExpired = () => {
  const error = unauthenticated('Token expired');
  expiredTokenErrors.add(error);
  return error;
};
/** Whether authenticate() refused the token because it expired (graphql-ws then closes with TOKEN_EXPIRED_CLOSE_CODE). */
export const isTokenExpired = (err: unknown): boolean => err instanceof Error && expiredTokenErrors.has(err);

/** Verified tokens are remembered (until they expire) so a client's repeated operations skip the signature check. */
const VERIFIED_CACHE_SIZE = 50_000;

export class TokenService {
  private readonly keys: Uint8Array[];
  private readonly jwks: JWTVerifyGetKey | null;
  readonly maxLifetimeSeconds: number;
  private readonly options: TokenOptions;
  private readonly verified = new Map<string, Authenticated>();
  private keySetFailureLoggedAt = 0;

  /**
   * secret: the HS256 secret that mints and verifies (null: HS256 tokens are refused and none can be minted, e.g.
   * production with only JWT_JWKS_URL). A number as second argument is the maximum lifetime.
   */
  constructor(secret: string | null, options: TokenOptions | number = {}) {
    this.options = typeof options === 'number' ? { maxLifetimeSeconds: options } : options;
    this.maxLifetimeSeconds = this.options.maxLifetimeSeconds ?? 30 * 86_400;
    const encode = (s: string) => new TextEncoder().encode(s);
    this.keys = secret ? [secret, this.options.previousSecret].filter((s): s is string => !!s).map(encode) : [];
    this.jwks = this.options.jwksUrl ? createRemoteJWKSet(new URL(this.options.jwksUrl), { cooldownDuration: (this.options.jwksCooldownSeconds ?? 30) * 1000, timeoutDuration: 5000 }) : null;
  }

  /** HS256 with JWT_SECRET. expiresIn: a jose duration ("8h", "30d") or seconds; default the maximum lifetime. */
  async sign(viewer: { sub: string; role: string }, expiresIn: string | number = this.maxLifetimeSeconds): Promise<string> {
    if (!this.keys.length) throw new Error('no JWT_SECRET: HS256 tokens cannot be minted');
    if (!viewer.sub.trim()) throw new Error('sub must not be empty');
    const role = roleNamed(viewer.role);
    if (!role) throw new Error(`role must be one of ${ROLE_CLAIMS.join(', ')} (got "${viewer.role}")`);
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT(roleClaims(this.options.roleClaim ?? 'role', role.toLowerCase()))
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(viewer.sub)
      .setIssuedAt(now)
      .setExpirationTime(typeof expiresIn === 'number' ? now + expiresIn : expiresIn);
    if (this.options.issuer) jwt.setIssuer(this.options.issuer);
    if (this.options.audience?.length) jwt.setAudience(this.options.audience[0]!);
    const token = await jwt.sign(this.keys[0]!);
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
    const token = match[1]!;
    const known = this.verified.get(token);
    if (known && known.expiresAt > Date.now()) return known;
    const payload = await this.verify(token);
    const exp = payload.exp!;
    const now = Math.floor(Date.now() / 1000);
    // A token issued "in the future" counts from now, so a far-future iat cannot stretch the lifetime.
    if (exp - Math.min(now, payload.iat ?? now) > this.maxLifetimeSeconds) {
      throw unauthenticated(`Token lifetime is longer than the maximum of ${this.maxLifetimeSeconds} s`);
    }
    if (typeof payload.sub !== 'string' || !payload.sub.trim()) throw unauthenticated('Token must carry a sub (the user)');
    const roleClaim = this.options.roleClaim ?? 'role';
    const claimed = parseRole(claimAt(payload, roleClaim));
    const defaultRole = this.options.defaultRole === undefined ? 'ATHLETE' : this.options.defaultRole;
    const role = claimed === 'missing' ? defaultRole : claimed;
    if (!role) {
      throw unauthenticated(
        claimed === 'missing'
          ? `Token carries no role at "${roleClaim}" (JWT_ROLE_CLAIM), and tokens without one are refused (JWT_DEFAULT_ROLE=none)`
          : `Token role at "${roleClaim}" must be one of ${ROLE_CLAIMS.join(', ')} (any case)`,
      );
    }
    const authenticated: Authenticated = { viewer: { id: userIdForSubject(payload.sub), role }, expiresAt: exp * 1000 };
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
    this.verified.set(token, authenticated);
    return authenticated;
  }

  /** The signature (by the header's alg: HS256 against the secrets, RS256 / ES256 against the JWKS) and exp, iss, aud. */
  private async verify(token: string): Promise<JWTPayload> {
    let alg: string | undefined;
    let kid: string | undefined;
    try {
      ({ alg, kid } = decodeProtectedHeader(token));
    } catch {
      throw unauthenticated('Invalid token');
    }
    const accepted = [...(this.keys.length ? ['HS256'] : []), ...(this.jwks ? JWKS_ALGORITHMS : [])];
    if (!alg || !accepted.includes(alg)) {
      const hint = this.jwks ? '' : (JWKS_ALGORITHMS as readonly string[]).includes(alg ?? '') ? ' (RS256 / ES256 need JWT_JWKS_URL)' : '';
      throw unauthenticated(`Token algorithm "${alg ?? 'none'}" is not accepted: ${accepted.join(', ')} only${hint}`);
    }
    const options = {
      algorithms: [alg],
      requiredClaims: ['exp'],
      ...(this.options.issuer ? { issuer: this.options.issuer } : {}),
      ...(this.options.audience?.length ? { audience: this.options.audience } : {}),
    };
    try {
      if (alg !== 'HS256') return (await jwtVerify(token, this.jwks!, options)).payload;
      for (let i = 0; ; i++) {
        try {
          return (await jwtVerify(token, this.keys[i]!, options)).payload;
        } catch (err) {
          // Only a signature that does not match moves on to the previous secret.
          if (!(err instanceof joseErrors.JWSSignatureVerificationFailed) || i === this.keys.length - 1) throw err;
        }
      }
    } catch (err) {
      throw this.refusal(err, kid);
    }
  }

  private refusal(err: unknown, kid: string | undefined) {
    if (err instanceof joseErrors.JWTExpired) return tokenExpired();
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      if (err.claim === 'exp') return unauthenticated('Token must carry an expiry (exp)');
      if (err.claim === 'iss') return unauthenticated(`Token issuer (iss) must be ${this.options.issuer} (JWT_ISSUER)`);
      if (err.claim === 'aud') return unauthenticated(`Token audience (aud) must include ${this.options.audience!.join(' or ')} (JWT_AUDIENCE)`);
      if (err.claim === 'nbf') return unauthenticated('Token is not valid yet (nbf)');
    }
    if (err instanceof joseErrors.JWKSNoMatchingKey) return unauthenticated(`Token key${kid ? ` (kid "${kid}")` : ''} is not among the identity provider's keys (JWT_JWKS_URL)`);
    if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return unauthenticated('Token must name its key (kid): the identity provider publishes several');
    // A timeout, a refused connection, a non-200 answer or an answer that is not a key set (jose's generic error).
    const unreachable = err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid || (err instanceof joseErrors.JOSEError && err.code === 'ERR_JOSE_GENERIC');
    if (unreachable || (err instanceof Error && !(err instanceof joseErrors.JOSEError))) {
      if (Date.now() - this.keySetFailureLoggedAt > 60_000) {
        this.keySetFailureLoggedAt = Date.now();
        this.options.log?.(`[AUTH] the identity provider's keys could not be fetched from ${this.options.jwksUrl}: ${(err as Error).message}`);
      }
      return unauthenticated("Token could not be verified: the identity provider's keys (JWT_JWKS_URL) could not be fetched");
    }
    return unauthenticated('Invalid token');
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
