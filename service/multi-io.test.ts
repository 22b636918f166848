/**
 * Models of several inputs and outputs (issue 16), end to end: a two-input, two-output ONNX
 * model built with the onnx Python package (served by ONNX Runtime) and a TF.js functional
 * model of the same shape (served by TF.js), both imported with `mscr models import`, then
 * asked over V1 (row and columnar), V2 and gRPC (Open Inference Protocol and TF Serving).
 * Each output depends on one input only: a = [[1,2,3],[4,5,6]] gives the sums [[6],[15]],
 * b = [[1,2],[3,4]] gives b x [10, 100] = [[10,200],[30,400]], so every input must reach the
 * model under its own name and every output come back under its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../runtime/backend/index.ts';
import { ML_PYTHON } from '../tests/python.ts';
import { runMscr } from '../tests/run-mscr.ts';
import { callUnary, grpcClients, type Clients } from './grpc/test-support.ts';
import type { Service } from './server.ts';
import { postJson, startService, waitUntil } from './test-support.ts';

const A = [
  [1, 2, 3],
  [4, 5, 6],
];
const B = [
  [1, 2],
  [3, 4],
];
const SUMS = [[6], [15]];
const SCALED = [
  [10, 200],
  [30, 400],
];

/** A functional model: sum = a x ones (no bias), prod = b x diag(10, 100) (no bias). */
async function saveTfjsModel(folder: string): Promise<void> {
  await initBackend('wasm');
  const a = tf.input({ shape: [3], name: 'a' });
  const b = tf.input({ shape: [2], name: 'b' });
  const sumLayer = tf.layers.dense({ units: 1, useBias: false, name: 'sum' });
  const prodLayer = tf.layers.dense({ units: 2, useBias: false, name: 'prod' });
  const model = tf.model({
    inputs: [a, b],
    outputs: [sumLayer.apply(a) as tf.SymbolicTensor, prodLayer.apply(b) as tf.SymbolicTensor],
  });
  sumLayer.setWeights([tf.ones([3, 1])]);
  prodLayer.setWeights([
    tf.tensor2d([
      [10, 0],
      [0, 100],
    ]),
  ]);
  await mkdir(folder, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      await writeFile(
        path.join(folder, 'group1-shard1of1.bin'),
        new Uint8Array(artifacts.weightData as ArrayBuffer),
      );
      await writeFile(
        path.join(folder, 'model.json'),
        JSON.stringify({
          format: 'layers-model',
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: artifacts.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
}

/** Row-major values of a nested list. */
const flat = (rows: number[][]) => rows.flat();

/** Flat V2 output data -> rows of `width`. */
function rowsOf(data: number[], width: number): number[][] {
  return Array.from({ length: data.length / width }, (_, i) =>
    data.slice(i * width, (i + 1) * width),
  );
}

// Twice: ONNX Runtime sessions in the worker threads, and on the service's thread.
for (const placement of ['workers', 'main'] as const)
  describe(`models of two inputs and two outputs, on both engines and every protocol (--onnx-placement ${placement})`, () => {
    let dir: string;
    let service: Service;
    let url: string;
    let clients: Clients;
    const models = [
      { name: 'two-onnx', engine: 'onnx', total: 'total', scaled: 'scaled' },
      { name: 'two-tfjs', engine: 'tfjs', total: 'sum', scaled: 'prod' },
    ] as const;

    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'mscr-multi-io-'));
      const store = path.join(dir, 'store');
      const onnxFile = path.join(dir, 'two.onnx');
      const script = new URL('./testdata/two_io_onnx.py', import.meta.url).pathname;
      await promisify(execFile)(ML_PYTHON, [script, onnxFile]);
      await saveTfjsModel(path.join(dir, 'tfjs'));
      for (const [model, source] of [
        ['two-onnx', onnxFile],
        ['two-tfjs', path.join(dir, 'tfjs')],
      ] as const) {
        const run = await runMscr(['models', 'import', '--store', store, '--model', model, source]);
        assert.equal(run.code, 0, run.stderr);
      }
      let grpcPort: number | undefined;
      ({ service, url, grpcPort } = await startService(store, { onnxPlacement: placement }));
      assert.ok(grpcPort);
      clients = grpcClients(`127.0.0.1:${grpcPort}`);
      await waitUntil(() => service.dataPlane.ready(), 'both models ready');
    });
    after(async () => {
      clients?.close();
      await service?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    test('the import keeps every input and output by name, and each engine serves its form', async () => {
      for (const m of models) {
        const metadata = (await (await fetch(`${url}/v2/models/${m.name}`)).json()) as {
          inputs: unknown[];
          outputs: unknown[];
        };
        assert.deepEqual(metadata.inputs, [
          { name: 'a', datatype: 'FP32', shape: [-1, 3] },
          { name: 'b', datatype: 'FP32', shape: [-1, 2] },
        ]);
        assert.deepEqual(metadata.outputs, [
          { name: m.total, datatype: 'FP32', shape: [-1, 1] },
          { name: m.scaled, datatype: 'FP32', shape: [-1, 2] },
        ]);
        const status = service.dataPlane.status(m.name);
        assert.equal(status.ready, true, m.name);
      }
      assert.deepEqual(
        service.engine
          .models()
          .map((m) => [m.key, m.engine])
          .sort(),
        [
          ['two-onnx@1', 'onnx'],
          ['two-tfjs@1', 'tfjs'],
        ],
      );
    });

    test('V2: every input by name (in any order), every output by name, outputs chosen per name', async () => {
      for (const m of models) {
        const inputs = [
          { name: 'b', shape: [2, 2], datatype: 'FP32', data: flat(B) },
          { name: 'a', shape: [2, 3], datatype: 'FP32', data: A },
        ];
        const all = await postJson(`${url}/v2/models/${m.name}/infer`, { inputs });
        assert.equal(all.status, 200, JSON.stringify(all.json));
        const outputs = all.json.outputs as { name: string; shape: number[]; data: number[] }[];
        assert.deepEqual(
          outputs.map((o) => [o.name, o.shape, rowsOf(o.data, o.shape[1] as number)]),
          [
            [m.total, [2, 1], SUMS],
            [m.scaled, [2, 2], SCALED],
          ],
          m.name,
        );
        const one = await postJson(`${url}/v2/models/${m.name}/infer`, {
          inputs,
          outputs: [{ name: m.scaled }],
        });
        assert.deepEqual(
          (one.json.outputs as { name: string; data: number[] }[]).map((o) => [o.name, o.data]),
          [[m.scaled, flat(SCALED)]],
        );
        const missing = await postJson(`${url}/v2/models/${m.name}/infer`, {
          inputs: inputs.slice(1),
        });
        assert.equal(missing.status, 400);
        assert.match(String(missing.json.error), /missing input 'b'/);
      }
    });

    test('V1: named inputs in both formats; outputs by name', async () => {
      for (const m of models) {
        const columnar = await postJson(`${url}/v1/models/${m.name}:predict`, {
          inputs: { a: A, b: B },
        });
        assert.equal(columnar.status, 200, JSON.stringify(columnar.json));
        assert.deepEqual(columnar.json, { outputs: { [m.total]: SUMS, [m.scaled]: SCALED } });
        const rows = await postJson(`${url}/v1/models/${m.name}:predict`, {
          instances: [
            { a: A[0], b: B[0] },
            { b: B[1], a: A[1] },
          ],
        });
        assert.equal(rows.status, 200, JSON.stringify(rows.json));
        assert.deepEqual(rows.json, {
          predictions: [
            { [m.total]: SUMS[0], [m.scaled]: SCALED[0] },
            { [m.total]: SUMS[1], [m.scaled]: SCALED[1] },
          ],
        });
        const bare = await postJson(`${url}/v1/models/${m.name}:predict`, { instances: A });
        assert.equal(bare.status, 400);
        assert.match(String(bare.json.error), /must be an object naming each input/);
      }
    });

    test('batched together, concurrent requests each get their own rows of every output', async () => {
      for (const m of models) {
        const answers = await Promise.all(
          Array.from({ length: 12 }, (_, k) => k + 1).map((i) =>
            postJson(`${url}/v2/models/${m.name}/infer`, {
              inputs: [
                { name: 'a', shape: [1, 3], datatype: 'FP32', data: [i, i, i] },
                { name: 'b', shape: [1, 2], datatype: 'FP32', data: [i, -i] },
              ],
            }),
          ),
        );
        answers.forEach((answer, k) => {
          const i = k + 1;
          const outputs = answer.json.outputs as { name: string; data: number[] }[];
          assert.deepEqual(
            outputs.map((o) => o.data),
            [[3 * i], [10 * i, -100 * i]],
            `${m.name} request ${i}`,
          );
        });
      }
    });

    test('gRPC: ModelInfer with raw contents and TF Serving Predict, every input and output by name', async () => {
      const raw = (rows: number[][]) => Buffer.from(new Float32Array(flat(rows)).buffer);
      const floats = (bytes: Buffer) =>
        Array.from(
          new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)),
        );
      for (const m of models) {
        const answer = await callUnary<{
          outputs: { name: string; shape: number[] }[];
          raw_output_contents: Buffer[];
        }>(clients.inference, 'ModelInfer', {
          model_name: m.name,
          inputs: [
            { name: 'b', datatype: 'FP32', shape: [2, 2] },
            { name: 'a', datatype: 'FP32', shape: [2, 3] },
          ],
          raw_input_contents: [raw(B), raw(A)],
        });
        assert.deepEqual(
          answer.outputs.map((o, i) => [
            o.name,
            o.shape.map(Number),
            floats(answer.raw_output_contents[i] as Buffer),
          ]),
          [
            [m.total, [2, 1], flat(SUMS)],
            [m.scaled, [2, 2], flat(SCALED)],
          ],
        );
        const predicted = await callUnary<{
          outputs: Record<
            string,
            { float_val: number[]; tensor_shape: { dim: { size: number }[] } }
          >;
        }>(clients.prediction, 'Predict', {
          model_spec: { name: m.name },
          inputs: {
            a: {
              dtype: 'DT_FLOAT',
              tensor_shape: { dim: [{ size: 2 }, { size: 3 }] },
              float_val: flat(A),
            },
            b: {
              dtype: 'DT_FLOAT',
              tensor_shape: { dim: [{ size: 2 }, { size: 2 }] },
              float_val: flat(B),
            },
          },
          output_filter: [m.total],
        });
        assert.deepEqual(Object.keys(predicted.outputs), [m.total]);
        assert.deepEqual(predicted.outputs[m.total]?.float_val, flat(SUMS));
      }
    });
  });

test('an ONNX model of two inputs refuses flags that do not apply to it', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mscr-multi-io-flags-'));
  try {
    const onnxFile = path.join(dir, 'two.onnx');
    const script = new URL('./testdata/two_io_onnx.py', import.meta.url).pathname;
    await promisify(execFile)(ML_PYTHON, [script, onnxFile]);
    const run = await runMscr([
      'models',
      'import',
      '--store',
      path.join(dir, 'store'),
      '--model',
      'two',
      '--features',
      'x,y',
      onnxFile,
    ]);
    assert.notEqual(run.code, 0);
    assert.match(
      run.stderr,
      /2 inputs and 2 outputs: it is served as it is.*--features do not apply/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
