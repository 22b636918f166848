#!/usr/bin/env node
// Runs every `*.test.ts` beside the code it tests with Node's own test runner (through tsx).
// Node 20's `--test` does not glob TypeScript files, so this script finds them.
// Usage: node scripts/run-tests.mjs [substring...]   (only files whose path contains one of them)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const layers = [
  'connectors',
  'runtime',
  'model',
  'service',
  'client',
  'retraining',
  'k8s',
  'cli',
  'scripts',
  'tests',
  'loadtest',
  'helm',
  'docker',
];
// Not 'data': the layers hold no generated data folders, and skipping the name hid
// model/data's own tests (loaders, generators) from every run.
const skip = new Set(['node_modules', 'dist', '.tools', 'models', 'results']);

function findTests(dir) {
  let found = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (skip.has(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found = found.concat(findTests(path));
    else if (entry.endsWith('.test.ts')) found.push(relative(root, path));
  }
  return found;
}

const filters = process.argv.slice(2);
const files = layers
  .flatMap((layer) => findTests(join(root, layer)))
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ') || '(all)'}`);
  process.exit(1);
}
console.log(`running ${files.length} test files`);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...files],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MSCR_LOG_LEVEL: process.env.MSCR_LOG_LEVEL ?? 'silent' },
  },
);
process.exit(result.status ?? 1);
