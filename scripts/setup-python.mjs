#!/usr/bin/env node
// Installs the stock clients the tests talk to (tritonclient's HTTP and gRPC clients, and
// grpcio-tools to compile the vendored TF Serving protos into a Python client at test time;
// all pinned) into a Python virtual environment cached outside the repository, and links it as
// .tools/venv. Plain Node, no npm dependencies. Skips all work when the pinned version is
// already there.
//
// Usage: node scripts/setup-python.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, lstatSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const PACKAGES = [
  'tritonclient[http,grpc]==2.73.0',
  'numpy==2.4.6',
  'grpcio-tools==1.81.1',
  'grpcio==1.81.1',
  'protobuf==6.33.6',
];
const root = new URL('..', import.meta.url).pathname;
const key = PACKAGES.join(' ').replace(/[^\w.=-]+/g, '_');
const venv = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mscr', 'python', key);
const link = join(root, '.tools', 'venv');
const python = join(venv, 'bin', 'python');

function run(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error?.code === 'ENOENT') {
    console.error(
      `setup-python: ${command} is not on PATH; install Python 3.9 or newer and re-run.`,
    );
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(
      `setup-python: ${command} ${args.join(' ')} failed:\n${(result.stderr || result.stdout).split('\n').slice(-20).join('\n')}`,
    );
    process.exit(1);
  }
  return result.stdout;
}

const installed =
  existsSync(python) &&
  spawnSync(
    python,
    ['-c', 'import tritonclient.http, tritonclient.grpc, grpc_tools.protoc, numpy'],
    { stdio: 'ignore' },
  ).status === 0;
if (installed) {
  console.log(`python ${PACKAGES.join(', ')}: already installed (${venv})`);
} else {
  const started = Date.now();
  console.log(`python ${PACKAGES.join(', ')}: installing into ${venv} ...`);
  rmSync(venv, { recursive: true, force: true });
  mkdirSync(venv, { recursive: true });
  run('python3', ['-m', 'venv', venv]);
  run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...PACKAGES]);
  console.log(
    `python ${PACKAGES.join(', ')}: done in ${Math.round((Date.now() - started) / 1000)} s`,
  );
}
mkdirSync(join(root, '.tools'), { recursive: true });
if (existsSync(link) || lstatExists(link)) rmSync(link, { force: true, recursive: false });
symlinkSync(venv, link);

function lstatExists(path) {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
