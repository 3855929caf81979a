// Issue 24 point 1, through the real server over HTTP and graphql-ws: tokens of an identity provider (RS256 and
// ES256 keys generated here, published by a JWKS server this test starts) are verified against its keys, cached
// and refetched on an unknown kid, so a key rotation needs no restart; the role comes from a nested claim in any
// case, a non-uuid sub is a stable user; a wrong issuer, audience or algorithm is refused with a clear
// UNAUTHENTICATED message. HS256 (JWT_SECRET, and JWT_SECRET_PREVIOUS during a rotation) keeps working beside it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userIdForSubject } from '../../src/auth.ts';
import { collect, gql, wsClient } from '../support/client.ts';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../support/server.ts';

const ISSUER = 'https://idp.test.example/';
const AUDIENCE = 'https://api.climbiq.test';
const PREVIOUS_SECRET = 'previous-secret-previous-secret-previous-0123';
const ME = '{ me { id role } }';
type Me = { me: { id: string; role: string } };

interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function newKey(alg: 'RS256' | 'ES256' | 'RS384', kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

interface TokenShape {
  sub?: string;
  iss?: string;
  aud?: string;
  exp?: number | string | null;
  alg?: string;
}

function sign(key: SigningKey, claims: Record<string, unknown>, shape: TokenShape = {}): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: shape.alg ?? key.alg, kid: key.kid, typ: 'JWT' })
    .setSubject(shape.sub ?? `auth0|${Math.random().toString(36).slice(2)}`)
    .setIssuedAt()
    .setIssuer(shape.iss ?? ISSUER)
    .setAudience(shape.aud ?? AUDIENCE);
  if (shape.exp !== null) jwt.setExpirationTime(shape.exp ?? '1h');
  return jwt.sign(key.privateKey);
}

/** The identity provider's key set, as this test publishes it. */
let published: JWK[] = [];
let fetches = 0;
let failing = false;
let jwks: Server;
let server: TestServer;
const logs: string[] = [];
let rsa: SigningKey;
let ec: SigningKey;

beforeAll(async () => {
  [rsa, ec] = await Promise.all([newKey('RS256', 'key-a-rsa'), newKey('ES256', 'key-a-ec')]);
  published = [rsa.jwk, ec.jwk];
  jwks = createServer((_req, res) => {
    fetches++;
    if (failing) return void res.writeHead(503).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  server = await startTestServer({
    env: {
      JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWT_ROLE_CLAIM: 'app_metadata.role',
      JWT_SECRET_PREVIOUS: PREVIOUS_SECRET,
      JWT_JWKS_COOLDOWN_SECONDS: '1',
    },
    log: (m) => logs.push(m),
  });
});
afterAll(async () => {
  await server?.close();
  await new Promise((resolve) => jwks?.close(resolve));
});

const me = (token: string) => gql<{ me: { id: string; role: string } }>(server.url, ME, {}, token);
async function refused(token: string, message: RegExp) {
  const res = await me(token);
  expect(res.status, JSON.stringify(res)).toBe(401);
  expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(res.errors?.[0]?.message).toMatch(message);
}
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('an identity provider (JWT_JWKS_URL)', () => {
  it('the startup log says which tokens are accepted', () => {
    expect(logs.find((m) => m.startsWith('[AUTH]'))).toMatch(
      /^\[AUTH\] tokens: HS256 \(JWT_SECRET and JWT_SECRET_PREVIOUS\); RS256 \/ ES256 with the keys at http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json; role at "app_metadata\.role", default athlete; issuer https:\/\/idp\.test\.example\/, audience https:\/\/api\.climbiq\.test$/,
    );
  });

  it('verifies RS256 tokens over HTTP: the role from app_metadata.role in any case, a non-uuid sub as a stable user, the keys fetched once', async () => {
    const before = fetches;
    const sub = 'auth0|65f0c0ffee';
    const first = await me(await sign(rsa, { app_metadata: { role: 'ANALYST' } }, { sub }));
    expect(first.status).toBe(200);
    expect(first.data?.me).toEqual({ id: userIdForSubject(sub), role: 'ANALYST' });
    // Another token of the same subject is the same user; a role left out is JWT_DEFAULT_ROLE (athlete).
    const again = await me(await sign(rsa, {}, { sub, exp: '2h' }));
    expect(again.data?.me).toEqual({ id: userIdForSubject(sub), role: 'ATHLETE' });
    // A list of roles (Keycloak's realm_access.roles shape): the most privileged known one.
    const listed = await me(await sign(rsa, { app_metadata: { role: ['offline_access', 'athlete', 'coach'] } }));
    expect(listed.data?.me.role).toBe('COACH');
    expect(fetches - before, 'the key set is cached').toBeLessThanOrEqual(1);
  });

  it('verifies ES256 tokens on a graphql-ws connection', async () => {
    const client = wsClient(server.wsUrl, await sign(ec, { app_metadata: { role: 'admin' } }, { sub: 'google-oauth2|1234' }));
    try {
      const out = await collect<Me>(client, ME);
      expect(out.events).toEqual([{ me: { id: userIdForSubject('google-oauth2|1234'), role: 'ADMIN' } }]);
    } finally {
      await client.dispose();
    }
  });

  it('a rotated key (new kid, old key removed) works at once without a restart; the removed key is refused', async () => {
    const rotated = await newKey('RS256', 'key-b-rsa');
    const beforeRotation = await sign(rsa, { app_metadata: { role: 'athlete' } }, { sub: 'auth0|old-key' });
    published = [rotated.jwk, ec.jwk];
    await wait(1100); // JWT_JWKS_COOLDOWN_SECONDS=1 since the last fetch
    const before = fetches;
    const res = await me(await sign(rotated, { app_metadata: { role: 'coach' } }, { sub: 'auth0|new-key' }));
    expect(res.data?.me).toEqual({ id: userIdForSubject('auth0|new-key'), role: 'COACH' });
    expect(fetches - before, 'the unknown kid fetched the key set again').toBe(1);
    const client = wsClient(server.wsUrl, await sign(rotated, {}, { sub: 'auth0|new-key-ws' }));
    try {
      expect((await collect<Me>(client, ME)).events).toEqual([{ me: { id: userIdForSubject('auth0|new-key-ws'), role: 'ATHLETE' } }]);
    } finally {
      await client.dispose();
    }
    await wait(1100);
    await refused(beforeRotation, /^Token key \(kid "key-a-rsa"\) is not among the identity provider's keys \(JWT_JWKS_URL\)$/);
  });

  it('a wrong issuer, audience or algorithm, no exp or an unknown role is refused with a clear UNAUTHENTICATED message', async () => {
    await refused(await sign(ec, {}, { iss: 'https://evil.example/' }), /^Token issuer \(iss\) must be https:\/\/idp\.test\.example\/ \(JWT_ISSUER\)$/);
    await refused(await sign(ec, {}, { aud: 'another-api' }), /^Token audience \(aud\) must include https:\/\/api\.climbiq\.test \(JWT_AUDIENCE\)$/);
    const rs384 = await newKey('RS384', 'key-a-rsa');
    await refused(await sign(rs384, {}), /^Token algorithm "RS384" is not accepted: HS256, RS256, ES256 only$/);
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', exp: 9e9 })).toString('base64url')}.`;
    await refused(unsigned, /^Token algorithm "none" is not accepted/);
    await refused(await sign(ec, {}, { exp: null }), /^Token must carry an expiry \(exp\)$/);
    await refused(await sign(ec, { app_metadata: { role: 'superuser' } }), /^Token role at "app_metadata.role" must be one of athlete, coach, analyst, admin \(any case\)$/);
    // A forged token: signed by a key of the same kid that the provider never published.
    const forged = await newKey('ES256', 'key-a-ec');
    await refused(await sign(forged, {}), /^Invalid token$/);
  });

  it('over graphql-ws a token with the wrong issuer closes the connection (4403)', async () => {
    const client = wsClient(server.wsUrl, await sign(ec, {}, { iss: 'https://evil.example/' }));
    try {
      const out = await collect<Me>(client, ME);
      expect(out.errors[0]).toMatchObject({ code: 4403 });
    } finally {
      await client.dispose();
    }
  });

  it("when the provider's key set cannot be fetched, a token with a new kid is refused saying so", async () => {
    const unknown = await newKey('ES256', 'key-c-ec');
    failing = true;
    try {
      await wait(1100);
      await refused(await sign(unknown, {}), /^Token could not be verified: the identity provider's keys \(JWT_JWKS_URL\) could not be fetched$/);
      expect(logs.filter((m) => m.startsWith("[AUTH] the identity provider's keys could not be fetched from http://127.0.0.1:"))).toHaveLength(1);
    } finally {
      failing = false;
    }
  });
});

describe('HS256 beside the provider', () => {
  const hs256 = (secret: string, iss = ISSUER) =>
    new SignJWT({ app_metadata: { role: 'Coach' } })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('3f1c0a4e-2222-4a4a-9b9b-123456789abc')
      .setIssuedAt()
      .setIssuer(iss)
      .setAudience(AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(secret));

  it('tokens of JWT_SECRET and of JWT_SECRET_PREVIOUS are accepted (with the issuer and audience); another secret is not', async () => {
    for (const secret of [TEST_JWT_SECRET, PREVIOUS_SECRET]) {
      expect((await me(await hs256(secret))).data?.me).toEqual({ id: '3f1c0a4e-2222-4a4a-9b9b-123456789abc', role: 'COACH' });
    }
    await refused(await hs256('some-other-secret-some-other-secret-0123'), /^Invalid token$/);
    await refused(await hs256(TEST_JWT_SECRET, 'https://dev.example/'), /JWT_ISSUER/);
    // The server mints with JWT_SECRET, the role at JWT_ROLE_CLAIM, the issuer and audience (as npm run token does).
    expect((await me(await server.services.tokens.sign({ sub: 'auth0|minted', role: 'analyst' }, '1h'))).data?.me).toEqual({ id: userIdForSubject('auth0|minted'), role: 'ANALYST' });
  });
});
