/**
 * A stock Open Inference Protocol client, unchanged: Triton's Python `tritonclient.http`
 * (pinned, installed by scripts/setup-python.mjs) against a real mscr service.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { publishToyClassifier, startService, waitUntil } from './test-support.ts';
import { tempStore } from './reload/test-support.ts';

const python = new URL('../.tools/venv/bin/python', import.meta.url).pathname;
const script = new URL('./testdata/tritonclient_check.py', import.meta.url).pathname;

test('tritonclient.http works unchanged: health, metadata, infer with JSON and binary tensors', async () => {
  assert.ok(
    existsSync(python),
    `run node scripts/setup-python.mjs first (npm test does): ${python} is missing`,
  );
  const temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 1);
  const { service, url } = await startService(temp.dir);
  try {
    await waitUntil(
      async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
      'readiness',
    );
    // Asynchronously: the service answers from this same process.
    const run = await promisify(execFile)(python, [
      script,
      url.replace('http://', ''),
      'toy',
      'features',
      'probabilities',
      '4',
    ]);
    const report = JSON.parse(run.stdout) as Record<string, unknown> & {
      binary_True: { output: number[][]; id: string; version: string };
      binary_False: { output: number[][] };
    };
    assert.equal(report.live, true);
    assert.equal(report.ready, true);
    assert.equal(report.model_ready, true);
    assert.deepEqual((report.metadata as { inputs: unknown[] }).inputs, [
      { name: 'features', datatype: 'FP32', shape: [-1, 4] },
    ]);
    assert.equal(report.binary_True.id, 'stock-client');
    assert.equal(report.binary_True.version, '1');
    assert.ok((report.binary_True.output[0]?.[1] ?? 0) > 0.9, 'version 1 favours class 1');
    assert.deepEqual(report.binary_True.output, report.binary_False.output);
  } finally {
    await service.stop();
    await temp.cleanup();
  }
});
