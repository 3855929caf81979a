// npm run persisted-operations -- [--out persisted-operations.json]
// Writes the manifest of trusted documents for the repository's own clients (the insights page, GraphiQL's
// examples): {"<sha256 of the document>": "<document>"}, the file PERSISTED_OPERATIONS names.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { clientOperationsManifest } from './lib/client-operations.ts';

try {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'persisted-operations.json' } }, strict: true });
  const manifest = await clientOperationsManifest();
  const out = path.resolve(values.out!);
  await writeFile(out, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`${Object.keys(manifest).length} operations written to ${out}; start the server with PERSISTED_OPERATIONS=${values.out}`);
} catch (err) {
  console.error(`persisted-operations: ${(err as Error).message}`);
  console.error('usage: npm run persisted-operations -- [--out persisted-operations.json]');
  process.exit(2);
}
