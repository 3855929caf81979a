// The CLIs' way to a running ClimbIQ server: when a server owns the PGlite directory, commands that would open it
// do their work through the server's GraphQL API instead, with a short-lived token minted from the same secret.
import { resolveJwtSecret, tokenOptions, TokenService } from '../../src/auth.ts';
import type { Config } from '../../src/config.ts';
import { describeOwner, liveOwner, type LockOwner } from '../../src/db/pglite-lock.ts';

/** The admin the CLIs act as through a server (created by its first request, like any user). */
export const CLI_ADMIN_ID = '00000000-0000-4000-8000-000000000002';

export interface OwningServer {
  owner: LockOwner;
  url: string;
}

/** How long a CLI waits for a server that owns the directory but is still starting (migrations, warm-up). */
const STARTING_SERVER_WAIT_MS = 120_000;

/**
 * The server that owns config's PGlite directory, once it listens; null when none does (or on DATABASE_URL,
 * where any number of processes share the database). A directory held by another CLI is not a server: opening
 * it then fails with the lock's own message.
 */
export async function owningServer(config: Config, log: (msg: string) => void): Promise<OwningServer | null> {
  if (config.databaseUrl) return null;
  let owner = liveOwner(config.pgliteDir);
  if (!owner?.serves) return null;
  if (!owner.url) log(`[CLI] ${config.pgliteDir} is owned by ${describeOwner(owner)}, which is still starting; waiting for it`);
  const deadline = Date.now() + STARTING_SERVER_WAIT_MS;
  while (owner?.serves && !owner.url && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    owner = liveOwner(config.pgliteDir);
  }
  if (!owner) return null; // it stopped meanwhile: the directory is free
  if (!owner.url) throw new Error(`${describeOwner(owner)} owns ${config.pgliteDir} but did not start listening within ${STARTING_SERVER_WAIT_MS / 1000} s`);
  return { owner, url: owner.url };
}

/** A token the server accepts: signed with JWT_SECRET, or the development secret in the data directory (as the server does). */
export async function mintToken(config: Config, sub: string, role: 'athlete' | 'coach' | 'admin', expiresIn = '1h'): Promise<string> {
  const { secret } = await resolveJwtSecret(config.jwtSecret, config.dataDir);
  return new TokenService(secret, tokenOptions(config)).sign({ sub, role }, expiresIn);
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** One GraphQL operation; throws with the server's own error messages. */
export async function graphql<T>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as GraphQLResponse<T>;
  if (body.errors?.length) {
    const unauthenticated = body.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
    throw new Error(
      `${url} answered: ${body.errors.map((e) => e.message).join('; ')}${unauthenticated ? ' (the server was started with another JWT_SECRET: run this command with the same JWT_SECRET)' : ''}`,
    );
  }
  if (!body.data) throw new Error(`${url} answered HTTP ${res.status} without data`);
  return body.data;
}
