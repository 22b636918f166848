/**
 * The Service end to end: a real HTTP server on loopback, a real local store, real TF.js
 * models in real worker threads. Hot reload under concurrent load must drop nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { corruptFile, tempStore, type TempStore } from './reload/test-support.ts';
import {
  checkReloadUnderLoad,
  postJson,
  publishToy,
  publishToyClassifier,
  startService,
  toyInfer,
  waitUntil,
} from './test-support.ts';
import type { Service } from './server.ts';
import { sharedData } from '../tests/shared-data.ts';
import { cifarManifest } from './protocols/test-manifests.ts';

const infer = toyInfer;

describe('serving and hot reload', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;

  before(async () => {
    temp = await tempStore();
    await publishToyClassifier(temp.store, 'toy', 0);
    ({ service, url } = await startService(temp.dir, { models: 'toy', maxBodyBytes: '65536' }));
    await waitUntil(
      async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
      'readiness',
    );
  });
  after(async () => {
    await service.stop();
    await temp.cleanup();
  });

  test('health, server metadata, model metadata and status', async () => {
    assert.equal((await fetch(`${url}/v2/health/live`)).status, 200);
    const server = (await (await fetch(`${url}/v2`)).json()) as { name: string };
    assert.equal(server.name, 'mscr');
    const metadata = (await (await fetch(`${url}/v2/models/toy`)).json()) as {
      versions: string[];
      inputs: { datatype: string; shape: number[] }[];
    };
    assert.deepEqual(metadata.versions, ['1']);
    assert.deepEqual(metadata.inputs[0], { name: 'features', datatype: 'FP32', shape: [-1, 4] });
    assert.equal((await fetch(`${url}/v2/models/toy/ready`)).status, 200);
    // A version the store does not have is not found, as its metadata is (not merely unready).
    assert.equal((await fetch(`${url}/v2/models/toy/versions/9/ready`)).status, 404);
    const status = (await (await fetch(`${url}/v1/models/toy`)).json()) as {
      model_version_status: { version: string; state: string }[];
    };
    assert.deepEqual(
      status.model_version_status.map((s) => [s.version, s.state]),
      [['1', 'AVAILABLE']],
    );
    assert.deepEqual(await (await fetch(`${url}/v1/models`)).json(), { models: ['toy'] });
  });

  test('V2 infer echoes the id and V1 predict answers in both formats', async () => {
    const v2 = await postJson(`${url}/v2/models/toy/infer`, infer(2));
    assert.equal(v2.status, 200);
    assert.equal(v2.json.id, 'r1');
    assert.equal(v2.json.model_version, '1');
    const outputs = v2.json.outputs as { name: string; shape: number[]; data: number[] }[];
    assert.deepEqual(outputs[0]?.shape, [2, 2]);
    assert.ok((outputs[0]?.data[0] ?? 0) > 0.9, 'version 1 favours class 0');
    const rows = await postJson(`${url}/v1/models/toy:predict`, { instances: [[0, 0, 0, 0]] });
    assert.equal(rows.status, 200);
    assert.equal((rows.json.predictions as number[][]).length, 1);
    const columns = await postJson(`${url}/v1/models/toy/versions/1:predict`, {
      inputs: [[1, 1, 1, 1]],
    });
    assert.equal(columns.status, 200);
    assert.ok(Array.isArray(columns.json.outputs));
  });

  test('a new version under concurrent load: every response 200, and responses switch from v1 to v2', async () => {
    await checkReloadUnderLoad(url, 'toy', () => publishToyClassifier(temp.store, 'toy', 1), '2');
    await waitUntil(
      () => service.manager.status('toy').versions.find((v) => v.version === 1)?.state === 'END',
      'version 1 unloaded',
    );
  });

  test('a corrupt new version changes nothing for clients and is reported FAILED', async () => {
    const manifest = await publishToyClassifier(temp.store, 'toy', 0);
    await corruptFile(temp.dir, 'toy', manifest.version, 'weights.bin');
    const versions: string[] = [];
    await waitUntil(async () => {
      const response = await postJson(`${url}/v2/models/toy/infer`, infer());
      assert.equal(response.status, 200);
      versions.push(String(response.json.model_version));
      return service.manager
        .status('toy')
        .versions.some((v) => v.version === manifest.version && v.state === 'FAILED');
    }, 'the corrupt version to fail');
    assert.ok(
      versions.every((v) => v === '2'),
      `served ${versions.join(',')}`,
    );
    const status = (await (await fetch(`${url}/v1/models/toy`)).json()) as {
      model_version_status: { version: string; status: { error_message: string } }[];
    };
    const failed = status.model_version_status.find((s) => s.version === String(manifest.version));
    assert.match(failed?.status.error_message ?? '', /sha256|checksum|integrity/i);
  });

  test('metrics expose requests, batches, version states and predicted classes', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const name of [
      'mscr_requests_total',
      'mscr_request_duration_seconds_bucket',
      'mscr_inference_batch_size_bucket',
      'mscr_inference_queue_seconds_bucket',
      'mscr_model_version_state',
      'mscr_model_events_total',
      'mscr_predicted_class_total',
      'mscr_prediction_confidence_bucket',
      'mscr_process_cpu_seconds_total',
    ]) {
      assert.match(text, new RegExp(`^${name}`, 'm'), name);
    }
    assert.match(text, /mscr_model_version_state\{model="toy",version="2",state="AVAILABLE"\} 1/);
    assert.match(
      text,
      /mscr_requests_total\{model="toy",version="2",protocol="v2",status="200"\} \d+/,
    );
  });

  describe('bad input gets a 4xx with {"error"} and the service keeps serving', () => {
    const cases: {
      name: string;
      path: string;
      init: RequestInit;
      status: number;
      error: RegExp;
    }[] = [
      {
        name: 'invalid JSON',
        path: '/v2/models/toy/infer',
        init: { method: 'POST', body: '{"inputs": [' },
        status: 400,
        error: /not valid JSON/,
      },
      {
        name: 'an empty body',
        path: '/v2/models/toy/infer',
        init: { method: 'POST' },
        status: 400,
        error: /empty/,
      },
      {
        name: 'a wrong shape',
        path: '/v2/models/toy/infer',
        init: {
          method: 'POST',
          body: JSON.stringify({
            inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }],
          }),
        },
        status: 400,
        error: /features/,
      },
      {
        name: 'a wrong datatype',
        path: '/v2/models/toy/infer',
        init: {
          method: 'POST',
          body: JSON.stringify({
            inputs: [
              { name: 'features', shape: [1, 4], datatype: 'BYTES', data: ['a', 'b', 'c', 'd'] },
            ],
          }),
        },
        status: 400,
        error: /BYTES/,
      },
      {
        name: 'a huge declared shape',
        path: '/v2/models/toy/infer',
        init: {
          method: 'POST',
          body: JSON.stringify({
            inputs: [{ name: 'features', shape: [1e9, 4], datatype: 'FP32', data: [1] }],
          }),
        },
        status: 400,
        error: /./,
      },
      {
        name: 'NaN strings',
        path: '/v1/models/toy:predict',
        init: { method: 'POST', body: '{"instances": [["NaN", 1, 2, 3]]}' },
        status: 400,
        error: /./,
      },
      {
        name: 'prototype pollution keys',
        path: '/v2/models/toy/infer',
        init: { method: 'POST', body: '{"__proto__": {"polluted": true}, "inputs": []}' },
        status: 400,
        error: /inputs/,
      },
      {
        name: 'an unknown model',
        path: '/v2/models/ghost/infer',
        init: { method: 'POST', body: JSON.stringify(infer()) },
        status: 404,
        error: /ghost/,
      },
      {
        name: 'an unknown version',
        path: '/v2/models/toy/versions/77/infer',
        init: { method: 'POST', body: JSON.stringify(infer()) },
        status: 404,
        error: /77/,
      },
      {
        name: 'a hostile model name',
        path: '/v2/models/..%2F..%2Fetc/infer',
        init: { method: 'POST', body: '{}' },
        status: 400,
        error: /invalid model name/,
      },
      { name: 'an unknown route', path: '/v3/nothing', init: {}, status: 404, error: /no route/ },
      {
        name: 'the wrong method',
        path: '/v2/models/toy/infer',
        init: { method: 'GET' },
        status: 405,
        error: /takes POST/,
      },
      {
        name: 'an oversized body',
        path: '/v2/models/toy/infer',
        init: { method: 'POST', body: 'x'.repeat(70_000) },
        status: 413,
        error: /larger than the limit/,
      },
      {
        name: 'a classify request to a model without image preprocessing',
        path: '/mscr/models/toy/classify',
        init: { method: 'POST', body: 'xx' },
        status: 400,
        error: /./,
      },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const response = await fetch(`${url}${c.path}`, c.init);
        assert.equal(response.status, c.status);
        const body = (await response.json()) as { error?: unknown };
        assert.equal(typeof body.error, 'string');
        assert.match(body.error as string, c.error);
        assert.equal(
          (await postJson(`${url}/v2/models/toy/infer`, infer())).status,
          200,
          'still serving',
        );
      });
    }
    test('a bad request in the same batch window as good ones fails alone', async () => {
      const bad = {
        inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3] }],
      };
      const results = await Promise.all([
        ...Array.from({ length: 8 }, () => postJson(`${url}/v2/models/toy/infer`, infer())),
        postJson(`${url}/v2/models/toy/infer`, bad),
        ...Array.from({ length: 8 }, () => postJson(`${url}/v2/models/toy/infer`, infer())),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        [...new Array(8).fill(200), 400, ...new Array(8).fill(200)],
      );
    });
  });
});

test('readiness is false until a model is available, and for an empty store', async () => {
  const temp = await tempStore();
  const { service, url } = await startService(temp.dir);
  try {
    assert.equal((await fetch(`${url}/v2/health/ready`)).status, 503);
    assert.equal((await fetch(`${url}/v2/health/live`)).status, 200);
    await publishToyClassifier(temp.store, 'late', 1);
    await waitUntil(
      async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
      'readiness after the first publish',
    );
  } finally {
    await service.stop();
    await temp.cleanup();
  }
});

test('a store outage keeps the current version serving', async () => {
  const temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 0);
  const { service, url } = await startService(temp.dir);
  try {
    await waitUntil(
      async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
      'readiness',
    );
    const { rename } = await import('node:fs/promises');
    await rename(temp.dir, `${temp.dir}-gone`); // the store folder disappears
    await new Promise((resolve) => setTimeout(resolve, 400)); // several polls fail
    const response = await postJson(`${url}/v2/models/toy/infer`, infer());
    assert.equal(response.status, 200);
    assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);
    await rename(`${temp.dir}-gone`, temp.dir);
  } finally {
    await service.stop();
    await temp.cleanup();
  }
});

test('an image classifier answers a posted JPEG, raw and multipart', async () => {
  const temp = await tempStore();
  // A real convnet manifest with image preprocessing: random weights, so only the shape of the answer is checked.
  const tf = await import('@tensorflow/tfjs');
  const labels = cifarManifest.labels ?? [];
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [32, 32, 3], filters: 4, kernelSize: 3 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  const { inputs, outputs, preprocessing } = cifarManifest;
  await publishToy(temp.store, model, {
    name: 'cifar',
    task: 'image-classification',
    architecture: 'tiny-cnn',
    inputs,
    outputs,
    labels,
    preprocessing,
  });
  const { service, url } = await startService(temp.dir);
  try {
    await waitUntil(
      async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
      'readiness',
    );
    const jpeg = await readFile(sharedData('cifar10/images/cat_0003.jpg'));
    const raw = await fetch(`${url}/mscr/models/cifar/classify?top=3`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: jpeg,
    });
    assert.equal(raw.status, 200);
    const answer = (await raw.json()) as { predictions: { label: string; score: number }[][] };
    assert.equal(answer.predictions[0]?.length, 3);
    assert.ok(answer.predictions[0]?.every((p) => labels.includes(p.label)));
    const form = new FormData();
    form.append('image', new Blob([jpeg], { type: 'image/jpeg' }), 'cat.jpg');
    const multipart = await fetch(`${url}/mscr/models/cifar/classify`, {
      method: 'POST',
      body: form,
    });
    assert.equal(multipart.status, 200);
    const notImage = await fetch(`${url}/mscr/models/cifar/classify`, {
      method: 'POST',
      body: 'this is not an image',
    });
    // Refused by its magic bytes before any decoder runs (issue 15, item 5).
    assert.equal(notImage.status, 415);
    assert.match(
      ((await notImage.json()) as { error: string }).error,
      /not an image format this server recognises; this server decodes jpeg, png, webp/,
    );
  } finally {
    await service.stop();
    await temp.cleanup();
  }
});
