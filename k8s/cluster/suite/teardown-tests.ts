/** Teardown restores the host, also after a run killed half-way (the last tests of the suite). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { addresses, teardown } from '../index.ts';
import { hostSnapshot } from '../host-snapshot.ts';
import { run } from '../host.ts';
import { readState } from '../state.ts';
import { until } from './fixture.ts';
import type { Fixture } from './fixture.ts';

export function teardownTests(fixture: Fixture): void {
  describe('teardown', { skip: fixture.skip || undefined }, () => {
    test('teardown restores the host: no processes, interfaces, chains, mounts, cgroups or sysctls left', async () => {
      const during = hostSnapshot(fixture.layout);
      assert.ok(during.processes.length > 0 && during.interfaces.includes(addresses.CNI_BRIDGE));
      const report = await fixture.cluster!.stop();
      fixture.cluster = undefined;
      const slow = Object.entries(report.seconds).filter(([, seconds]) => seconds >= 1);
      console.log(`# teardown: ${slow.map(([n, sec]) => `${n} ${sec.toFixed(1)} s`).join(', ')}`);
      assert.deepEqual(report.problems, []);
      const now = hostSnapshot(fixture.layout);
      assert.deepEqual(now, fixture.hostBefore);
      assert.equal(readState(fixture.layout.stateFile), null);
      assert.throws(() => readFileSync(fixture.layout.userKubeconfig));
    });

    test('a run killed half-way is cleaned up by the next start (teardown from the state file)', async () => {
      // `cluster:up` in a child process, SIGKILLed once kubelet and kube-proxy run: its
      // detached processes, guard, interfaces and chains stay behind, as after a killed test run.
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, '..', 'cli.ts'), 'up', '--no-images'],
        { stdio: 'ignore' },
      );
      try {
        await until(
          'the killed run got as far as kube-proxy',
          async () => {
            const state = readState(fixture.layout.stateFile);
            return (
              state?.processes['kube-proxy'] &&
              run('iptables', ['-t', 'nat', '-S', 'KUBE-SERVICES']).status === 0
            );
          },
          300_000,
        );
      } finally {
        child.kill('SIGKILL');
      }
      const left = hostSnapshot(fixture.layout);
      assert.ok(left.processes.length > 0, 'the killed run left processes');
      assert.ok(left.guardChains.length > 0, 'and its guard');
      // What startCluster does first.
      const report = await teardown(fixture.layout);
      assert.equal(report.found, true);
      assert.deepEqual(report.problems, []);
      assert.deepEqual(hostSnapshot(fixture.layout), fixture.hostBefore);
    });
  });
}
