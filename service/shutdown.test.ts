/**
 * SIGTERM on the real `mscr serve` process: readiness drops, queued and in-flight requests
 * are answered, then the process exits 0, so a rolling update drops nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { postJson, publishToyClassifier, waitUntil } from './test-support.ts';
import { tempStore } from './reload/test-support.ts';

const bin = new URL('../bin/mscr.js', import.meta.url).pathname;

test('SIGTERM drains queued requests and exits 0', async () => {
  const temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 0);
  // A long batching delay keeps requests queued when the signal arrives.
  const child = spawn(
    process.execPath,
    [
      bin,
      'serve',
      '--store',
      temp.dir,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--workers',
      '1',
      '--max-batch-size',
      '64',
      '--max-queue-delay',
      '400',
      '--log-level',
      'warn',
      '--backend',
      'wasm',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitUntil(() => /at (http:\/\/\S+)/.test(stderr), 'the listening line');
    const url = /at (http:\/\/\S+)/.exec(stderr)?.[1] as string;
    await waitUntil(
      async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
      'readiness',
    );
    const body = {
      inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }],
    };
    const inFlight = Array.from({ length: 10 }, () => postJson(`${url}/v2/models/toy/infer`, body));
    await new Promise((resolve) => setTimeout(resolve, 100)); // they are queued now
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const results = await Promise.all(inFlight);
    assert.deepEqual(
      results.map((r) => r.status),
      new Array(10).fill(200),
    );
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, stderr);
    assert.match(stderr, /SIGTERM: draining/);
  } finally {
    child.kill('SIGKILL');
    await temp.cleanup();
  }
});
