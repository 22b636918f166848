/**
 * Models trained elsewhere, end to end: real scikit-learn and XGBoost models trained in Python
 * on the tables scikit-learn ships (breast cancer, diabetes), converted with skl2onnx and
 * onnxmltools (model/import/testdata/train_tabular.py), imported with the `mscr models import`
 * command, served by a running service, and asked for the held-out rows: mscr's predictions
 * must equal Python's. Files that cannot serve are refused at import with exit code 3 and
 * nothing is published.
 *
 * Python comes from `.tools/venv-ml` (pinned by scripts/setup-python.mjs; `npm test` runs it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openStore } from '../connectors/store/index.ts';
import { denseOnnx } from '../service/engine/onnx-fixtures.ts';
import type { Service } from '../service/server.ts';
import { postJson, startService, waitUntil } from '../service/test-support.ts';
import { ML_PYTHON } from './python.ts';
import { runMscr } from './run-mscr.ts';

const TRAIN = new URL('../model/import/testdata/train_tabular.py', import.meta.url).pathname;

interface Reference {
  features: string[];
  rows: Record<string, number>[];
  predictions: ({ label: string; probabilities: number[] } | { value: number })[];
}

let training: Promise<string> | undefined;

/** Trains and converts the models once per run (about 25 s); resolves with their folder. */
function trained(): Promise<string> {
  training ??= (async () => {
    assert.ok(
      existsSync(ML_PYTHON),
      `run node scripts/setup-python.mjs first (npm test does): ${ML_PYTHON} is missing`,
    );
    const folder = await mkdtemp(path.join(os.tmpdir(), 'mscr-trained-'));
    await promisify(execFile)(ML_PYTHON, [TRAIN, folder], { timeout: 300_000 });
    return folder;
  })();
  return training;
}

after(async () => {
  if (training) await rm(await training, { recursive: true, force: true });
});

type Prediction = { label: string; probabilities: Record<string, number> } | { value: number };

const CLASSIFIERS = ['logistic', 'forest', 'xgboost'];
const REGRESSORS = ['ridge', 'xgbregressor'];

describe('scikit-learn and XGBoost models, imported and served', () => {
  let dir: string;
  let storeUri: string;
  let service: Service;
  let url: string;
  const references = new Map<string, Reference>();

  before(async () => {
    const folder = await trained();
    dir = await mkdtemp(path.join(os.tmpdir(), 'mscr-import-'));
    storeUri = `file://${path.join(dir, 'store')}`;
    for (const name of [...CLASSIFIERS, ...REGRESSORS]) {
      const reference = JSON.parse(
        await readFile(path.join(folder, `${name}.json`), 'utf8'),
      ) as Reference;
      references.set(name, reference);
      const run = await runMscr([
        'models',
        'import',
        '--store',
        storeUri,
        '--model',
        name,
        '--features',
        reference.features.join(','),
        ...(REGRESSORS.includes(name) ? ['--task', 'regression'] : []),
        path.join(folder, `${name}.onnx`),
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`imported .* as ${name} version 1 \\(onnx`));
    }
    ({ service, url } = await startService(storeUri, { workers: '2' }));
    await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
  });

  after(async () => {
    await service?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Relative closeness on float32 arithmetic (ONNX Runtime) vs float64 (Python). */
  function close(actual: number, expected: number, what: string): void {
    assert.ok(
      Math.abs(actual - expected) <= 1e-4 * Math.max(1, Math.abs(expected)),
      `${what}: mscr ${actual}, Python ${expected}`,
    );
  }

  for (const name of CLASSIFIERS) {
    test(`${name}: every held-out row gets Python's class and probabilities`, async () => {
      const reference = references.get(name) as Reference;
      const response = await postJson(`${url}/mscr/models/${name}/predict`, {
        rows: reference.rows,
      });
      assert.equal(response.status, 200, JSON.stringify(response.json));
      const predictions = response.json.predictions as Prediction[];
      assert.equal(predictions.length, reference.rows.length);
      predictions.forEach((prediction, i) => {
        const expected = reference.predictions[i] as { label: string; probabilities: number[] };
        assert.ok('label' in prediction, JSON.stringify(prediction));
        assert.equal(prediction.label, expected.label, `row ${i}`);
        expected.probabilities.forEach((p, c) =>
          close(prediction.probabilities[String(c)] ?? NaN, p, `row ${i} class ${c}`),
        );
      });
    });
  }

  for (const name of REGRESSORS) {
    test(`${name}: every held-out row gets Python's value`, async () => {
      const reference = references.get(name) as Reference;
      const response = await postJson(`${url}/mscr/models/${name}/predict`, {
        rows: reference.rows,
      });
      assert.equal(response.status, 200, JSON.stringify(response.json));
      const predictions = response.json.predictions as { value: number }[];
      assert.equal(predictions.length, reference.rows.length);
      predictions.forEach((prediction, i) =>
        close(prediction.value, (reference.predictions[i] as { value: number }).value, `row ${i}`),
      );
    });
  }

  test('a CSV with a header (columns in another order, an extra target column) predicts the same', async () => {
    const reference = references.get('forest') as Reference;
    const columns = ['target', ...[...reference.features].reverse()];
    const csv = [
      columns.join(','),
      ...reference.rows.map((row) => columns.map((c) => (c === 'target' ? 0 : row[c])).join(',')),
    ].join('\n');
    const response = await fetch(`${url}/mscr/models/forest/predict`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: csv,
    });
    const body = (await response.json()) as { predictions: { label: string }[] };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(
      body.predictions.map((p) => p.label),
      reference.predictions.map((p) => (p as { label: string }).label),
    );
  });

  test('V1 and V2 serve the imported classifier too, with the same probabilities', async () => {
    const reference = references.get('xgboost') as Reference;
    const rows = reference.rows.slice(0, 3).map((row) => reference.features.map((f) => row[f]));
    const v1 = await postJson(`${url}/v1/models/xgboost:predict`, { instances: rows });
    assert.equal(v1.status, 200, JSON.stringify(v1.json));
    (v1.json.predictions as number[][]).forEach((row, i) => {
      const expected = reference.predictions[i] as { probabilities: number[] };
      row.forEach((p, c) => close(p, expected.probabilities[c] as number, `V1 row ${i}`));
    });
    const v2 = await postJson(`${url}/v2/models/xgboost/infer`, {
      inputs: [{ name: 'input', shape: [3, 30], datatype: 'FP32', data: rows.flat() }],
    });
    assert.equal(v2.status, 200, JSON.stringify(v2.json));
    const out = (v2.json.outputs as { name: string; data: number[] }[])[0];
    assert.equal(out?.name, 'probabilities');
    assert.deepEqual(out?.data, (v1.json.predictions as number[][]).flat());
  });
});

describe('files that cannot serve are refused at import, before anything is published', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mscr-import-bad-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function refused(file: string, message: RegExp, extra: string[] = []): Promise<void> {
    const storeUri = `file://${path.join(dir, 'store')}`;
    const run = await runMscr([
      'models',
      'import',
      '--store',
      storeUri,
      '--model',
      'bad',
      ...extra,
      file,
    ]);
    assert.equal(run.code, 3, `exit code for ${path.basename(file)}: ${run.stderr}`);
    assert.match(run.stderr, message);
    // The store is not even created: the file is refused before the store is touched.
    if (existsSync(path.join(dir, 'store'))) {
      assert.deepEqual(await openStore(storeUri).listModels(), [], 'nothing was published');
    }
    assert.equal(
      existsSync(path.join(dir, 'store', 'bad')),
      false,
      'no version folder was claimed',
    );
  }

  test('not ONNX, truncated, an opset the runtime lacks, a dynamic feature count, a ZipMap output', async () => {
    const good = denseOnnx({ bias: [1, -1] });
    const write = async (name: string, bytes: Uint8Array | string) => {
      const file = path.join(dir, name);
      await writeFile(file, bytes);
      return file;
    };
    await refused(
      await write('notes.onnx', 'these are my notes, not a model\n'),
      /not an ONNX model/,
    );
    await refused(await write('empty.onnx', ''), /is empty/);
    await refused(
      await write('truncated.onnx', good.subarray(0, Math.floor(good.length / 2))),
      /not an ONNX model, or it is truncated/,
    );
    await refused(
      await write('future.onnx', denseOnnx({ bias: [1, -1], opset: 999 })),
      /ONNX Runtime 1\.\d+\.\d+ cannot load the model/,
    );
    await refused(
      await write('dynamic.onnx', denseOnnx({ bias: [1, -1], inputDims: ['F'] })),
      /number of features is dynamic; pass --features/,
    );
    await refused(
      await write('batch8.onnx', denseOnnx({ bias: [1, -1], batch: 8 })),
      /batch dimension is fixed at 8/,
    );
    const usage = await runMscr([
      'models',
      'import',
      '--store',
      `file://${path.join(dir, 'store')}`,
      '--model',
      'bad',
      '--features',
      'a,b,c',
      await write('four.onnx', good),
    ]);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /--features names 3 features; the model takes 4/);

    await refused(path.join(await trained(), 'zipmap.onnx'), /sequence of maps.*zipmap/i);
  });
});
