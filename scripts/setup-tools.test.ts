// Runs the real setup script: the first test builds helm and k6 when the cache is cold (minutes),
// and takes a second or two once they are installed, since the script is idempotent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface Tool {
  package: string;
  module: string;
  version: string;
}

const root = new URL('..', import.meta.url).pathname;
const script = join(root, 'scripts', 'setup-tools.mjs');
const tools = JSON.parse(readFileSync(join(root, 'scripts', 'tools.json'), 'utf8')) as Record<
  string,
  Tool
>;
const binary = (name: string) => join(root, '.tools', 'bin', name);
const slow = { timeout: 30 * 60_000 };

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', env });
  assert.equal(result.error, undefined, `${command} did not start: ${result.error?.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function setup(...args: string[]) {
  return run(process.execPath, [script, ...args]);
}

test('installs helm and k6 at the pinned versions', slow, () => {
  const result = setup('helm', 'k6');
  assert.equal(result.status, 0, result.stdout + result.stderr);

  const helm = run(binary('helm'), ['version']);
  assert.equal(helm.status, 0, helm.stderr);
  assert.match(helm.stdout, new RegExp(`Version:"${tools.helm!.version}"`));

  const k6 = run(binary('k6'), ['version']);
  assert.equal(k6.status, 0, k6.stderr);
  assert.match(k6.stdout, new RegExp(`^k6 ${tools.k6!.version} `));
});

test('a second run finds both installed and does not rebuild', slow, () => {
  const before = ['helm', 'k6'].map((name) => statSync(binary(name)));
  const result = setup('helm', 'k6');
  assert.equal(result.status, 0, result.stdout + result.stderr);
  for (const name of ['helm', 'k6']) {
    const version = tools[name]!.version;
    assert.match(result.stdout, new RegExp(`^${name} ${version}: already installed`, 'm'));
  }
  assert.doesNotMatch(result.stdout, /building/);
  const after = ['helm', 'k6'].map((name) => statSync(binary(name)));
  assert.deepEqual(
    after.map((s) => [s.ino, s.mtimeMs]),
    before.map((s) => [s.ino, s.mtimeMs]),
  );
});

test('--list prints every pinned tool with its version', () => {
  const result = setup('--list');
  assert.equal(result.status, 0, result.stderr);
  for (const [name, tool] of Object.entries(tools)) {
    assert.match(result.stdout, new RegExp(`^${name} +${tool.version} +${tool.package} `, 'm'));
  }
});

test('an unknown tool name fails and names it', () => {
  const result = setup('kubectl');
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /unknown tool kubectl; known: helm, k6/);
});

test('a missing go binary gives a clear message', () => {
  const result = run(process.execPath, [script, 'helm'], { ...process.env, PATH: '/nonexistent' });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /`go` is not on PATH/);
});
