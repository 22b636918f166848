/**
 * The pool starts `worker.ts` through tsx when it runs from source (every other test here),
 * and `worker.js` directly when compiled to dist/. This test compiles the engine's import
 * closure to JavaScript (TypeScript's transpileModule, as `tsc` emits it: `.ts` imports
 * rewritten to `.js`) and runs it in a plain `node` without tsx.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '../..');
const relativeImport = /(?:from\s*|import\s*\(?\s*)['"](\.{1,2}\/[^'"]+\.ts)['"]/g;

/** Every source file `entry` imports, directly or not (relative imports only). */
function importClosure(entries: string[]): string[] {
  const seen = new Set<string>();
  const todo = [...entries];
  for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(relativeImport)) {
      if (match[1] !== undefined) todo.push(resolve(dirname(file), match[1]));
    }
  }
  return [...seen];
}

test('compiled to JavaScript, the engine starts worker.js without tsx', () => {
  const out = mkdtempSync(join(tmpdir(), 'mscr-engine-js-'));
  try {
    const sources = importClosure([
      join(root, 'service/engine/index.ts'),
      join(root, 'service/engine/worker.ts'),
      join(root, 'connectors/ms/artifacts.ts'),
    ]);
    for (const file of sources) {
      const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
        fileName: file,
        compilerOptions: {
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          rewriteRelativeImportExtensions: true,
          verbatimModuleSyntax: true,
        },
      });
      const target = join(out, relative(root, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, outputText);
    }
    writeFileSync(join(out, 'package.json'), '{"type":"module"}');
    symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'), 'dir');
    writeFileSync(
      join(out, 'check.mjs'),
      `
      import * as tf from '@tensorflow/tfjs';
      import { InferenceEngine } from './service/engine/index.js';
      import { modelToFiles } from './connectors/ms/artifacts.js';
      const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3 })] });
      const engine = await InferenceEngine.start({ workers: 1 });
      await engine.load('m@1', await modelToFiles(model));
      const x = new Float32Array([1, 2, 3, 4, -1, -2, -3, -4]);
      const expected = model.predict(tf.tensor(x, [2, 4])).dataSync();
      const got = await engine.predict('m@1', x.slice(), [2, 4]);
      await engine.close();
      const diff = Math.max(...got.output.map((v, i) => Math.abs(v - expected[i])));
      console.log(JSON.stringify({ shape: got.shape, diff }));
      `,
    );
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = spawnSync(process.execPath, ['check.mjs'], {
      cwd: out,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(child.status, 0, `exit ${child.status}: ${child.stderr}`);
    const result = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as {
      shape: number[];
      diff: number;
    };
    assert.deepEqual(result.shape, [2, 3]);
    assert.ok(result.diff <= 1e-5, `max difference ${result.diff}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
