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

const KUBERNETES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'];
const ADDONS = ['metrics-server', 'coredns', 'kwok'];

test('builds or links the control plane, node and add-on binaries at the pinned versions', () => {
  const setup = run(process.execPath, [join(root, 'scripts', 'setup-kube.mjs')]);
  assert.equal(setup.status, 0, setup.stdout + setup.stderr);
  const list = run(process.execPath, [join(root, 'scripts', 'setup-kube.mjs'), '--list']);
  for (const name of ['etcd', ...KUBERNETES, 'kubelet', ...ADDONS]) {
    assert.match(list.stdout, new RegExp(`^${name} +v[\\d.]+ .* installed`, 'm'));
  }
  // The release's own version string, from the -X flags of its release builds.
  const version = /kube-apiserver +(v[\d.]+)/.exec(list.stdout)?.[1];
  for (const name of KUBERNETES) {
    assert.equal(run(bin(name), ['--version']).stdout.trim(), `Kubernetes ${version}`, name);
  }
  assert.match(
    run(bin('kubelet'), ['--version']).stdout,
    new RegExp(`^Kubernetes ${version}$`, 'm'),
  );
  const etcd = /^etcd +v([\d.]+)/m.exec(list.stdout)?.[1];
  assert.match(run(bin('etcd'), ['--version']).stdout, new RegExp(`etcd Version: ${etcd}`));
});

test('the add-ons are the pinned module versions (read from the binaries)', () => {
  const list = run(process.execPath, [join(root, 'scripts', 'setup-kube.mjs'), '--list']);
  for (const name of ADDONS) {
    const pinned = new RegExp(`^${name} +(v[\\d.]+) +(\\S+)`, 'm').exec(list.stdout);
    assert.ok(pinned, `${name} listed`);
    const info = run('go', ['version', '-m', bin(name)]).stdout;
    assert.match(
      info,
      new RegExp(
        `\\tmod\\t${pinned[2]!.replace(/\./g, '\\.')}\\t${pinned[1]!.replace(/\./g, '\\.')}\\t`,
      ),
    );
  }
});

test('--list names the Debian packages of the node and whether they are installed', () => {
  const list = run(process.execPath, [join(root, 'scripts', 'setup-kube.mjs'), '--list']);
  for (const name of ['containerd', 'runc', 'containernetworking-plugins', 'iptables']) {
    assert.match(list.stdout, new RegExp(`^${name} +apt +debian +(installed|not installed)`, 'm'));
  }
});

test('--help prints the usage', () => {
  const help = run(process.execPath, [join(root, 'scripts', 'setup-kube.mjs'), '--help']);
  assert.equal(help.status, 0);
  assert.match(
    help.stdout,
    /usage: node scripts\/setup-kube.mjs \[--list\] \[--node \| --node-only\]/,
  );
});
