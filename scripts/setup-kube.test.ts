// Runs the real scripts/setup-kube.mjs: idempotent, so it takes a second once the control
// plane binaries are cached (npm test runs it before the tests; a cold build is minutes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = (name: string) => join(root, '.tools', 'bin', name);

function run(command: string, args: string[]) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8' });
  assert.equal(result.error, undefined, `${command} did not start: ${result.error?.message}`);
  return result;
}

test('builds or links etcd, kube-apiserver and kube-controller-manager at the pinned versions', () => {
  const setup = run(process.execPath, [join(root, 'scripts', 'setup-kube.mjs')]);
  assert.equal(setup.status, 0, setup.stdout + setup.stderr);
  const list = run(process.execPath, [join(root, 'scripts', 'setup-kube.mjs'), '--list']);
  for (const name of ['etcd', 'kube-apiserver', 'kube-controller-manager']) {
    assert.match(list.stdout, new RegExp(`^${name} +v[\\d.]+ .* installed`, 'm'));
  }
  // The release's own version string, from the -X flags of its release builds.
  const version = /kube-apiserver +(v[\d.]+)/.exec(list.stdout)?.[1];
  assert.equal(run(bin('kube-apiserver'), ['--version']).stdout.trim(), `Kubernetes ${version}`);
  const etcd = /^etcd +v([\d.]+)/m.exec(list.stdout)?.[1];
  assert.match(run(bin('etcd'), ['--version']).stdout, new RegExp(`etcd Version: ${etcd}`));
});
