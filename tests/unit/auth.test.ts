import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeJwt } from 'jose';
import { claimAt, parseRole, TokenService, userIdForSubject } from '../../src/auth.ts';

const SECRET = 'unit-secret-unit-secret-unit-secret-0123456789';
const SUB = '3f1c0a4e-1111-4a4a-9b9b-123456789abc';

afterEach(() => {
  vi.useRealTimers();
});

describe('TokenService', () => {
  it('accepts a valid token repeatedly and rejects it once expired, even after earlier successes', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-28T12:00:00Z'));
    const tokens = new TokenService(SECRET);
    const header = `Bearer ${await tokens.sign({ sub: SUB, role: 'coach' }, '60s')}`;
    const expected = { viewer: { id: SUB, role: 'COACH' }, expiresAt: Date.parse('2026-11-28T12:01:00Z') };
    expect(await tokens.authenticate(header)).toEqual(expected);
    expect(await tokens.authenticate(header)).toEqual(expected);
    vi.setSystemTime(new Date('2026-11-28T12:01:01Z'));
    await expect(tokens.authenticate(header)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });

  it('rejects a token signed with another secret, and a malformed header', async () => {
    const other = new TokenService('other-secret-other-secret-other-secret-0123');
    const header = `Bearer ${await other.sign({ sub: SUB, role: 'admin' })}`;
    await expect(new TokenService(SECRET).authenticate(header)).rejects.toMatchObject({ message: 'Invalid token' });
    await expect(new TokenService(SECRET).authenticate('Token abc')).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    expect(await new TokenService(SECRET).authenticate(undefined)).toBeNull();
  });
});

describe('token lifetime (TOKEN_MAX_LIFETIME_SECONDS)', () => {
  it('mints and accepts up to the maximum lifetime, and refuses longer', async () => {
    const hourly = new TokenService(SECRET, 3600);
    await expect(hourly.sign({ sub: SUB, role: 'athlete' }, '2h')).rejects.toThrow(/maximum token lifetime of 3600 s/);
    const header = `Bearer ${await hourly.sign({ sub: SUB, role: 'athlete' })}`;
    expect((await hourly.authenticate(header))?.viewer).toEqual({ id: SUB, role: 'ATHLETE' });
    const daily = `Bearer ${await new TokenService(SECRET, 86_400).sign({ sub: SUB, role: 'athlete' }, '2h')}`;
    await expect(hourly.authenticate(daily)).rejects.toMatchObject({ message: 'Token lifetime is longer than the maximum of 3600 s' });
  });

  it('mints known roles in any case, as the lowercase claim, and refuses others', async () => {
    const token = await new TokenService(SECRET).sign({ sub: SUB, role: 'ADMIN' });
    expect(decodeJwt(token).role).toBe('admin');
    await expect(new TokenService(SECRET).sign({ sub: SUB, role: 'superuser' })).rejects.toThrow(/role must be one of athlete, coach, analyst, admin/);
  });
});

describe('subjects and roles', () => {
  it('a uuid sub is the user id; any other sub maps to a stable UUID v5 (as Python computes it)', () => {
    expect(userIdForSubject(SUB.toUpperCase())).toBe(SUB);
    const auth0 = userIdForSubject('auth0|abc');
    // python3 -c "import uuid; print(uuid.uuid5(uuid.UUID('6f1f3c2a-52e4-4d0b-9a51-3b1e0c7d2a90'), 'auth0|abc'))"
    expect(auth0).toBe('1ce94ed7-78dc-5797-a60e-97f0b6632841');
    expect(userIdForSubject('auth0|abc')).toBe(auth0);
    expect(userIdForSubject('auth0|abd')).not.toBe(auth0);
  });

  it('the role claim: any case, a list picks the most privileged known role, a dot path or a whole claim name', () => {
    expect(parseRole('ATHLETE')).toBe('ATHLETE');
    expect(parseRole('Analyst')).toBe('ANALYST');
    expect(parseRole('athlete ')).toBeNull();
    expect(parseRole(['offline_access', 'coach', 'athlete'])).toBe('COACH');
    expect(parseRole(['offline_access'])).toBe('missing');
    expect(parseRole(undefined)).toBe('missing');
    expect(claimAt({ app_metadata: { role: 'admin' } }, 'app_metadata.role')).toBe('admin');
    expect(claimAt({ 'https://climbiq.example/role': 'coach' }, 'https://climbiq.example/role')).toBe('coach');
    expect(claimAt({ app_metadata: 'x' }, 'app_metadata.role')).toBeUndefined();
    expect(claimAt({ role: 'admin' }, 'constructor')).toBeUndefined();
    expect(claimAt({ app_metadata: {} }, 'app_metadata.__proto__')).toBeUndefined();
  });

  it('during a rotation tokens of JWT_SECRET and JWT_SECRET_PREVIOUS are accepted, new ones minted with JWT_SECRET', async () => {
    const previous = 'previous-secret-previous-secret-0123456789';
    const old = `Bearer ${await new TokenService(previous).sign({ sub: SUB, role: 'coach' })}`;
    const rotating = new TokenService(SECRET, { previousSecret: previous });
    expect((await rotating.authenticate(old))?.viewer.role).toBe('COACH');
    const minted = `Bearer ${await rotating.sign({ sub: SUB, role: 'athlete' })}`;
    expect((await new TokenService(SECRET).authenticate(minted))?.viewer.role).toBe('ATHLETE');
    await expect(new TokenService(SECRET).authenticate(old)).rejects.toMatchObject({ message: 'Invalid token' });
  });
});

describe('settings without a secret or a default role', () => {
  it('JWT_DEFAULT_ROLE=none refuses a token without a role, naming the claim path', async () => {
    const strict = new TokenService(SECRET, { roleClaim: 'app_metadata.role', defaultRole: null });
    const withRole = `Bearer ${await strict.sign({ sub: SUB, role: 'coach' })}`;
    expect((await strict.authenticate(withRole))?.viewer.role).toBe('COACH');
    const without = `Bearer ${await new TokenService(SECRET).sign({ sub: SUB, role: 'athlete' }, '1h')}`; // its role sits at "role"
    await expect(strict.authenticate(without)).rejects.toMatchObject({
      message: 'Token carries no role at "app_metadata.role" (JWT_ROLE_CLAIM), and tokens without one are refused (JWT_DEFAULT_ROLE=none)',
    });
  });

  it('without JWT_SECRET (production with only JWT_JWKS_URL) HS256 tokens are refused and none can be minted', async () => {
    const providerOnly = new TokenService(null, { jwksUrl: 'https://idp.example/.well-known/jwks.json' });
    const hs256 = `Bearer ${await new TokenService(SECRET).sign({ sub: SUB, role: 'admin' })}`;
    await expect(providerOnly.authenticate(hs256)).rejects.toMatchObject({ message: 'Token algorithm "HS256" is not accepted: RS256, ES256 only' });
    await expect(providerOnly.sign({ sub: SUB, role: 'admin' })).rejects.toThrow(/no JWT_SECRET/);
  });
});
