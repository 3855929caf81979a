import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenService } from '../../src/auth.ts';

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

  it('mints only roles spelled as claims', async () => {
    await expect(new TokenService(SECRET).sign({ sub: SUB, role: 'ADMIN' })).rejects.toThrow(/role must be one of athlete, coach, analyst, admin/);
  });
});
