/**
 * scripts/setup-brokers.mjs on this machine: the brokers are installed (or it says how), a
 * second run is a no-op, and no system broker service was left running by the install
 * (the tests start private ones; a system one would hold 5672/1883 forever).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { missingBroker } from '../service/brokers/test-support.ts';

const script = new URL('./setup-brokers.mjs', import.meta.url).pathname;

/** Command lines of the running processes (from /proc: no ps needed). */
function commandLines(): string[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        return [readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')];
      } catch {
        return [];
      }
    });
}

test('setup-brokers: installed, idempotent, no system broker left running', () => {
  const result = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 900_000 });
  assert.equal(result.status, 0, result.stdout + result.stderr);
  const skip = missingBroker('rabbitmq') ?? missingBroker('mosquitto');
  if (skip === undefined) assert.match(result.stdout, /present/);
  const system = commandLines().filter(
    (line) =>
      line.includes('/etc/mosquitto/mosquitto.conf') ||
      (line.includes('beam') && line.includes('/var/lib/rabbitmq')),
  );
  assert.deepEqual(system, [], 'a system broker service is running');
});
