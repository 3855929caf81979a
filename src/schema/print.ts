// The schema as clients see it, in SDL: sorted by name so that a change shows in review where it happened,
// not where Pothos happened to register it. `npm run schema:print` writes it to schema.graphql.
import { fileURLToPath } from 'node:url';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './index.ts';

export const SCHEMA_FILE = fileURLToPath(new URL('../../schema.graphql', import.meta.url));

export const printedSchema = (): string => `${printSchema(lexicographicSortSchema(schema))}\n`;
