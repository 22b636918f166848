#!/usr/bin/env node
// The `mscr` command. A built package runs the compiled JavaScript in dist/; a source
// checkout runs the TypeScript directly through tsx, so `npm install` is enough to use it.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
let entry;
if (existsSync(compiled)) {
  entry = await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  entry = await import('../cli/main.ts');
}
process.exitCode = await entry.main(process.argv.slice(2));
