// npm run schema:print: writes schema.graphql (the sorted SDL of the API) for review and client codegen.
import { writeFileSync } from 'node:fs';
import { printedSchema, SCHEMA_FILE } from '../src/schema/print.ts';

writeFileSync(SCHEMA_FILE, printedSchema());
console.log(`wrote ${SCHEMA_FILE}`);
