// BENCHMARKS.md is shared by several scripts: each owns one block between <!-- name:start --> and <!-- name:end -->.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export function writeBlock(file: string, name: string, body: string): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${body}\n${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const i = text.indexOf(start);
  const k = text.indexOf(end);
  if (i >= 0 && k > i) text = text.slice(0, i) + block + text.slice(k + end.length);
  else text = `${text.replace(/\s*$/, '')}\n\n${block}\n`;
  writeFileSync(file, text);
}
