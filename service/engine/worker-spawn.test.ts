/**
 * `node --max-old-space-size=4096 --import tsx ...`: the pool passes the process's flags to
 * its workers when it runs from source, and a Worker refuses V8 and process-wide flags
 * (`ERR_WORKER_INVALID_EXEC_ARGV`). Those flags already hold for every thread, so the pool
 * leaves them out instead of failing to start.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { withoutRefused } from './worker-spawn.ts';

const root = resolve(import.meta.dirname, '../..');

/** The error Node itself throws for these worker flags. */
function refusal(execArgv: string[]): unknown {
  try {
    const worker = new Worker('0', { eval: true, execArgv });
    void worker.terminate();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('worker flags the process was started with', () => {
  test('refused flags are left out, with a separate value; the others stay', () => {
    const argv = ['--max-semi-space-size=16', '--enable-source-maps', '--stack-size', '2000'];
    const error = refusal(argv);
    assert.equal((error as { code?: string }).code, 'ERR_WORKER_INVALID_EXEC_ARGV');
    const kept = withoutRefused(argv, error);
    assert.deepEqual(kept, ['--enable-source-maps']);
    assert.equal(refusal(kept ?? []), undefined, 'a worker starts with what is left');
  });

  test('other errors, and nothing left to drop, are not retried', () => {
    assert.equal(withoutRefused(['--trace-gc'], new Error('boom')), undefined);
    const error = refusal(['--trace-gc']);
    assert.equal(withoutRefused(['--enable-source-maps'], error), undefined);
  });

  test('a pool from source starts and predicts under node --max-semi-space-size --trace-gc', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mscr-exec-argv-'));
    try {
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
      const file = (path: string) => JSON.stringify(pathToFileURL(join(root, path)).href);
      writeFileSync(
        join(dir, 'check.ts'),
        `
        import * as tf from '@tensorflow/tfjs';
        import { InferenceEngine } from ${file('service/engine/index.ts')};
        import { modelToFiles } from ${file('connectors/ms/artifacts.ts')};
        const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
        const engine = await InferenceEngine.start({ workers: 1 });
        await engine.load('m@1', await modelToFiles(model));
        const got = await engine.predict('m@1', new Float32Array([1, 2]), [1, 2]);
        await engine.close();
        console.log(JSON.stringify({ shape: got.shape }));
        `,
      );
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      const child = spawnSync(
        process.execPath,
        ['--max-semi-space-size=16', '--trace-gc', '--import', 'tsx', join(dir, 'check.ts')],
        { cwd: root, env, encoding: 'utf8', timeout: 120_000 },
      );
      assert.equal(child.status, 0, `exit ${child.status}: ${child.stderr.slice(-2000)}`);
      const last = child.stdout.trim().split('\n').pop() ?? '{}';
      assert.deepEqual(JSON.parse(last), { shape: [1, 1] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
