// npm run token -- --sub <uuid or any subject> --role analyst [--expires 8h]
// Mints an HS256 development token with JWT_SECRET, or the secret the server generated into the data dir. It
// expires after --expires (default and maximum: TOKEN_MAX_LIFETIME_SECONDS, 30 days unless set), and carries
// JWT_ISSUER / the first JWT_AUDIENCE when those are set.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { resolveJwtSecret, tokenOptions, TokenService } from '../src/auth.ts';
import { ConfigError, loadConfig } from '../src/config.ts';

try {
  const { values } = parseArgs({
    options: { sub: { type: 'string' }, role: { type: 'string', default: 'athlete' }, expires: { type: 'string' } },
    strict: true,
  });
  const config = loadConfig();
  if (config.production && !config.jwtSecret) throw new ConfigError("JWT_SECRET is unset: this server accepts only its identity provider's tokens (JWT_JWKS_URL), so none can be minted here");
  const { secret } = await resolveJwtSecret(config.jwtSecret, config.dataDir);
  const sub = values.sub ?? randomUUID();
  const token = await new TokenService(secret, tokenOptions(config)).sign({ sub, role: values.role! }, values.expires);
  if (!values.sub) console.error(`(no --sub given: minted for a new user ${sub})`);
  console.log(token);
} catch (err) {
  console.error(err instanceof ConfigError ? `Configuration error: ${err.message}` : `token: ${(err as Error).message}`);
  console.error('usage: npm run token -- --sub <uuid> --role athlete|coach|analyst|admin (any case) [--expires 8h|30d, at most TOKEN_MAX_LIFETIME_SECONDS]');
  process.exit(2);
}
