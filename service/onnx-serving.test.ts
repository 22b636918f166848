/**
 * The ONNX Runtime engine end to end: real ONNX models (written with the ONNX protobuf schema,
 * run by the real onnxruntime-node in the worker threads) published to a real local store and
 * served by a running service: V1, V2 in JSON and in binary tensors, the tabular predict
 * endpoint, hot reload under load with zero failures, bad versions FAILED while the serving
 * version carries on, and `--engine` choosing between a version's two forms.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ManifestDraft, ModelManifest } from '../connectors/ms/manifest.ts';
import type { ModelStore } from '../connectors/store/index.ts';
import { denseOnnx, toyOnnxClassifier } from './engine/onnx-fixtures.ts';
import { tempStore, type TempStore } from './reload/test-support.ts';
import {
  checkReloadUnderLoad,
  postJson,
  publishToyClassifier,
  startService,
  toyInfer,
  waitUntil,
} from './test-support.ts';
import type { Service } from './server.ts';

function onnxDraft(name: string, extra: Partial<ManifestDraft> = {}): ManifestDraft {
  return {
    name,
    framework: { name: 'onnx', version: '1.30.0', format: 'onnx', opset: 13, producer: 'test' },
    task: 'tabular-classification',
    architecture: 'imported',
    inputs: [{ name: 'features', dtype: 'float32', shape: [-1, 4] }],
    outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 2] }],
    labels: ['low', 'high'],
    preprocessing: { kind: 'features', columns: ['a', 'b', 'c', 'd'] },
    metrics: {},
    training: {
      epochs: 0,
      batchSize: 0,
      trainSamples: 0,
      testSamples: 0,
      backend: 'imported',
      durationMs: 0,
    },
    data: { fingerprint: '0'.repeat(64), sources: ['test'] },
    ...extra,
  };
}

function publishOnnx(
  store: ModelStore,
  name: string,
  bytes: Uint8Array,
  extra: Partial<ManifestDraft> = {},
): Promise<ModelManifest> {
  return store.publish(onnxDraft(name, extra), new Map([['model.onnx', bytes]]));
}

/** A version's state and error, as the manager reports them (V1 shows FAILED as END). */
function stateOf(service: Service, model: string, version: number) {
  return service.manager.status(model).versions.find((v) => v.version === version);
}

/** A V2 binary-tensor request: JSON header, then the raw little-endian float32 rows. */
async function inferBinary(
  url: string,
  model: string,
  rows: number[][],
): Promise<{ status: number; version: string; output: number[] }> {
  const data = Float32Array.from(rows.flat());
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: 'features',
          shape: [rows.length, 4],
          datatype: 'FP32',
          parameters: { binary_data_size: data.byteLength },
        },
      ],
      outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
    }),
  );
  const response = await fetch(`${url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    },
    body: Buffer.concat([header, Buffer.from(data.buffer)]),
  });
  const body = Buffer.from(await response.arrayBuffer());
  const length = Number(response.headers.get('inference-header-content-length'));
  const json = JSON.parse(body.subarray(0, length).toString('utf8')) as { model_version: string };
  const raw = body.subarray(length);
  const output = Array.from(
    new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
  );
  return { status: response.status, version: json.model_version, output };
}

// Every behaviour twice: sessions in the worker threads, and on the service's thread.
for (const placement of ['workers', 'main'] as const)
  describe(`the ONNX Runtime engine, served (--onnx-placement ${placement})`, () => {
    let temp: TempStore;
    let service: Service;
    let url: string;

    before(async () => {
      temp = await tempStore();
      await publishOnnx(temp.store, 'toy', toyOnnxClassifier(0));
      ({ service, url } = await startService(temp.dir, {
        workers: '2',
        onnxThreads: '1',
        onnxPlacement: placement,
      }));
      await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
    });

    after(async () => {
      await service?.stop();
      await temp?.cleanup();
    });

    test('V1, V2 JSON, V2 binary and the tabular endpoint answer with the ONNX model', async () => {
      const rows = [
        [0.5, 0.5, 0.5, 0.5],
        [1, 2, 3, 4],
      ];
      // softmax([2, -2]) = [0.98201376, 0.01798621], whatever the features (zero weights).
      const expected = [0.98201376, 0.01798621];
      const v1 = await postJson(`${url}/v1/models/toy:predict`, { instances: rows });
      assert.equal(v1.status, 200, JSON.stringify(v1.json));
      const v1Rows = v1.json.predictions as number[][];
      assert.equal(v1Rows.length, 2);
      for (const row of v1Rows)
        row.forEach((p, i) => assert.ok(Math.abs(p - (expected[i] as number)) < 1e-6));

      const v2 = await postJson(`${url}/v2/models/toy/infer`, toyInfer(3));
      assert.equal(v2.status, 200, JSON.stringify(v2.json));
      const out = (v2.json.outputs as { name: string; shape: number[]; data: number[] }[])[0];
      assert.equal(out?.name, 'probabilities');
      assert.deepEqual(out?.shape, [3, 2]);
      assert.ok(Math.abs((out?.data[0] ?? 0) - 0.98201376) < 1e-6);

      const binary = await inferBinary(url, 'toy', rows);
      assert.equal(binary.status, 200);
      assert.equal(binary.output.length, 4);
      assert.ok(Math.abs((binary.output[1] ?? 0) - 0.01798621) < 1e-6);

      const metadata = (await (await fetch(`${url}/v2/models/toy`)).json()) as { platform: string };
      assert.equal(metadata.platform, 'onnxruntime_onnx');

      const tabular = await postJson(`${url}/mscr/models/toy/predict`, {
        rows: [{ a: 1, b: 2, c: 3, d: 4 }],
      });
      assert.equal(tabular.status, 200, JSON.stringify(tabular.json));
      const [prediction] = tabular.json.predictions as {
        label: string;
        probabilities: Record<string, number>;
      }[];
      assert.equal(prediction?.label, 'low');
      assert.ok(Math.abs((prediction?.probabilities.high ?? 0) - 0.01798621) < 1e-6);
    });

    test('hot reload to a new ONNX version under load: zero failed requests', async () => {
      const seen = await checkReloadUnderLoad(
        url,
        'toy',
        () => publishOnnx(temp.store, 'toy', toyOnnxClassifier(1)),
        '2',
      );
      assert.ok(seen.includes('1') && seen.includes('2'));
      const after = await postJson(`${url}/v2/models/toy/infer`, toyInfer());
      const data = (after.json.outputs as { data: number[] }[])[0]?.data ?? [];
      assert.ok((data[1] ?? 0) > 0.9, 'version 2 favours class 1');
    });

    test('a version ONNX Runtime cannot load, or whose file was altered, is FAILED; the serving one carries on', async () => {
      // Not a graph: bytes that decode as no model at all.
      const broken = await publishOnnx(
        temp.store,
        'toy',
        new TextEncoder().encode('not an onnx model'),
      );
      await waitUntil(
        () => stateOf(service, 'toy', broken.version)?.state === 'FAILED',
        `version ${broken.version} FAILED`,
      );
      assert.match(
        stateOf(service, 'toy', broken.version)?.error ?? '',
        /ONNX Runtime cannot load model\.onnx/,
      );
      const served = await postJson(`${url}/v2/models/toy/infer`, toyInfer());
      assert.equal(served.status, 200);
      assert.equal(served.json.model_version, '2');

      // An opset the runtime does not have.
      const future = await publishOnnx(temp.store, 'toy', denseOnnx({ bias: [0, 0], opset: 999 }));
      await waitUntil(
        () => stateOf(service, 'toy', future.version)?.state === 'FAILED',
        `version ${future.version} FAILED`,
      );
      assert.equal(
        (await postJson(`${url}/v2/models/toy/infer`, toyInfer())).json.model_version,
        '2',
      );

      // A valid model whose bytes changed after publishing: the checksum refuses it.
      // Written beside the served store and moved in manifest last, so the service never sees
      // the untampered bytes.
      const other = await tempStore();
      const published = await publishOnnx(other.store, 'toy', toyOnnxClassifier(0, 3));
      const tampered = { ...published, version: future.version + 1 };
      const folder = path.join(temp.dir, 'toy', String(tampered.version));
      await mkdir(folder, { recursive: true });
      await writeFile(path.join(folder, 'model.onnx'), toyOnnxClassifier(1, 3));
      await writeFile(path.join(folder, 'manifest.json'), JSON.stringify(tampered));
      await other.cleanup();
      await waitUntil(
        () => stateOf(service, 'toy', tampered.version)?.state === 'FAILED',
        `version ${tampered.version} FAILED`,
      );
      assert.match(stateOf(service, 'toy', tampered.version)?.error ?? '', /sha256|checksum/i);
      assert.equal(
        (await postJson(`${url}/v2/models/toy/infer`, toyInfer())).json.model_version,
        '2',
      );
    });

    test('bad tabular input is a 4xx with an error, and the service keeps serving', async () => {
      const cases: [unknown, RegExp][] = [
        [{ rows: [] }, /at least one row/],
        [{ rows: [{ a: 1, b: 2, c: 3 }] }, /lacks "d"/],
        [{ rows: [{ a: 1, b: 2, c: 3, d: 4, e: 5 }] }, /unknown feature 'e'/],
        [{ rows: [{ a: 1, b: 2, c: 3, d: 'x' }] }, /not a finite number/],
        [{ rows: [[1, 2, 3, 4]] }, /must be an object/],
        [{ instances: [] }, /send \{"rows"/],
        [[1, 2], /send \{"rows"/],
      ];
      for (const [body, message] of cases) {
        const response = await postJson(`${url}/mscr/models/toy/predict`, body);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.match(String(response.json.error), message);
      }
      const csv = async (text: string) => {
        const response = await fetch(`${url}/mscr/models/toy/predict`, {
          method: 'POST',
          headers: { 'content-type': 'text/csv' },
          body: text,
        });
        return {
          status: response.status,
          json: (await response.json()) as Record<string, unknown>,
        };
      };
      assert.match(String((await csv('')).json.error), /empty/);
      assert.match(String((await csv('a,b,c\n1,2,3\n')).json.error), /lacks "d"/);
      assert.match(String((await csv('a,b,c,d\n1,2,3\n')).json.error), /3 fields/);
      assert.match(String((await csv('a,b,c,d\n1,2,x,4\n')).json.error), /'c'.*not a number/);
      assert.match(String((await csv('a,b,c,d\n')).json.error), /no data rows/);
      const good = await csv('target,d,c,b,a\n9,4,3,2,1\n9,0,0,0,0\n');
      assert.equal(good.status, 200, JSON.stringify(good.json));
      assert.equal((good.json.predictions as unknown[]).length, 2);
      const bad = await fetch(`${url}/mscr/models/toy/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"rows": [',
      });
      assert.equal(bad.status, 400);
      const tooMany = await postJson(`${url}/mscr/models/toy/predict`, {
        rows: Array.from({ length: 100_000 }, () => ({ a: 0, b: 0, c: 0, d: 0 })),
      });
      assert.equal(tooMany.status, 413, JSON.stringify(tooMany.json));
      assert.equal((await postJson(`${url}/v2/models/toy/infer`, toyInfer())).status, 200);
    });

    test('the sessions run where --onnx-placement says', () => {
      const stats = service.engine.stats();
      if (placement === 'main') {
        assert.ok((stats.inProcess?.served ?? 0) > 0, 'answered on the service thread');
        assert.equal(stats.inProcess?.models, 1);
        assert.ok(
          stats.workers.every((w) => w.served === 0),
          'no worker ran an ONNX batch',
        );
      } else {
        assert.equal(stats.inProcess, undefined);
        assert.ok(stats.workers.some((w) => w.served > 0));
      }
    });
  });

describe('--engine chooses between the two forms of a version', () => {
  test('auto and onnx serve the ONNX form, tfjs the TF.js form', async () => {
    const temp = await tempStore();
    try {
      // The TF.js form favours class 1; its ONNX form (a stand-in for an export) class 0,
      // so each answer says which engine computed it.
      const tfjsOnly = await publishToyClassifier(temp.store, 'scratch', 1);
      const files = (await temp.store.readVersion('scratch', tfjsOnly.version)).files;
      files.set('model.onnx', toyOnnxClassifier(0));
      const {
        name: _n,
        version: _v,
        files: _f,
        createdAt: _c,
        schemaVersion: _s,
        ...rest
      } = tfjsOnly;
      await temp.store.publish(
        { name: 'both', ...rest, artifacts: { onnx: { file: 'model.onnx' } } },
        files,
      );
      const favours = async (engine: string): Promise<number> => {
        const { service, url } = await startService(temp.dir, { engine, models: 'both' });
        try {
          await waitUntil(
            async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
            'ready',
          );
          const response = await postJson(`${url}/v2/models/both/infer`, toyInfer());
          const data = (response.json.outputs as { data: number[] }[])[0]?.data ?? [];
          return (data[0] ?? 0) > 0.5 ? 0 : 1;
        } finally {
          await service.stop();
        }
      };
      assert.equal(await favours('auto'), 0, 'auto prefers the ONNX form');
      assert.equal(await favours('onnx'), 0);
      assert.equal(await favours('tfjs'), 1, 'tfjs serves the TF.js form');
    } finally {
      await temp.cleanup();
    }
  });
});
