// The client contract: the committed schema.graphql is what the server serves, and every part of it is described.
import { readFileSync } from 'node:fs';
import {
  buildClientSchema,
  getIntrospectionQuery,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
  lexicographicSortSchema,
  printSchema,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printedSchema, SCHEMA_FILE } from '../../src/schema/print.ts';
import { gqlOk } from '../support/client.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

/** Every type, field, argument, input field and enum value without a description, as Type.field(arg). */
function undescribed(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  const check = (name: string, description: string | null | undefined) => {
    if (!description?.trim()) missing.push(name);
  };
  for (const type of Object.values(schema.getTypeMap())) {
    // GraphQL's own types (__Schema, String, ...) are described by the spec.
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
    check(type.name, type.description);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        check(`${type.name}.${field.name}`, field.description);
        for (const arg of field.args) check(`${type.name}.${field.name}(${arg.name})`, arg.description);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) check(`${type.name}.${field.name}`, field.description);
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) check(`${type.name}.${value.name}`, value.description);
    }
  }
  return missing.sort();
}

const servedSchema = async () => {
  const { token } = await tokenFor('athlete');
  return buildClientSchema(await gqlOk<IntrospectionQuery>(server.url, getIntrospectionQuery({ specifiedByUrl: true }), {}, token));
};

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
    expect(`${printSchema(lexicographicSortSchema(await servedSchema()))}\n`).toBe(readFileSync(SCHEMA_FILE, 'utf8'));
  });

  it('describes every type, field, argument, input field and enum value (GraphiQL docs)', async () => {
    expect(undescribed(await servedSchema())).toEqual([]);
  });
});
