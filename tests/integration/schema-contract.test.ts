// The client contract: the committed schema.graphql is what the server serves.
import { readFileSync } from 'node:fs';
import { buildClientSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printedSchema, SCHEMA_FILE } from '../../src/schema/print.ts';
import { gqlOk } from '../support/client.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('schema.graphql', () => {
  it('is the schema the code builds (else run `npm run schema:print` and review the diff)', () => {
    expect(printedSchema(), 'schema.graphql differs from the code: run `npm run schema:print` and commit the file').toBe(readFileSync(SCHEMA_FILE, 'utf8'));
  });

  it('is the schema the server answers introspection with', async () => {
    const { token } = await tokenFor('athlete');
    const served = buildClientSchema(await gqlOk<IntrospectionQuery>(server.url, getIntrospectionQuery({ specifiedByUrl: true }), {}, token));
    expect(`${printSchema(lexicographicSortSchema(served))}\n`).toBe(readFileSync(SCHEMA_FILE, 'utf8'));
  });
});
