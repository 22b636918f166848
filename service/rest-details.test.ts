/**
 * The REST details stock clients trip over (issue 16), against a real service on loopback:
 * error content type, TF Serving's metadata, classify and regress APIs, `GET /` liveness,
 * the strict model status, `signature_name: ""`, V2 ids, readiness of unknown versions,
 * non-finite numbers in V1 JSON, version 0 and 405s. The stock clients themselves run in
 * kserve-client.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../runtime/backend/index.ts';
import { createLogger } from './observability/log.ts';
import { parseTfServingJson } from './protocols/index.ts';
import { tempStore, type TempStore } from './reload/test-support.ts';
import { publishToy, publishToyClassifier, startService, waitUntil } from './test-support.ts';
import type { Service } from './server.ts';

/** A two-feature model on `features` rows: a classifier (softmax of 2x, 2y) or x + 2y + 0.5. */
async function publishFeatureModel(
  temp: TempStore,
  name: string,
  kind: 'classifier' | 'regressor',
) {
  await initBackend('wasm');
  const model = tf.sequential();
  const classifier = kind === 'classifier';
  model.add(
    tf.layers.dense({
      inputShape: [2],
      units: classifier ? 2 : 1,
      ...(classifier ? { activation: 'softmax' } : {}),
      name: 'out',
    }),
  );
  model.setWeights(
    classifier
      ? [
          tf.tensor2d([
            [2, 0],
            [0, 2],
          ]),
          tf.zeros([2]),
        ]
      : [tf.tensor2d([[1], [2]]), tf.tensor1d([0.5])],
  );
  return publishToy(temp.store, model, {
    name,
    task: classifier ? 'tabular-classification' : 'regression',
    inputs: [{ name: 'features', dtype: 'float32', shape: [-1, 2] }],
    outputs: [{ name: 'out', dtype: 'float32', shape: [-1, classifier ? 2 : 1] }],
    ...(classifier ? { labels: ['x-wins', 'y-wins'] } : {}),
    preprocessing: { kind: 'features', columns: ['x', 'y'] },
  });
}

describe('REST details that stock clients trip over', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  let web: string;

  before(async () => {
    temp = await tempStore();
    await publishToyClassifier(temp.store, 'toy', 1);
    await publishFeatureModel(temp, 'iris', 'classifier');
    await publishFeatureModel(temp, 'price', 'regressor');
    await temp.store.setAlias('toy', 'stable', 1);
    web = await mkdtemp(path.join(tmpdir(), 'mscr-web-'));
    await writeFile(path.join(web, 'index.html'), '<!doctype html><title>mscr</title>');
    ({ service, url } = await startService(temp.dir, { maxBodyBytes: '65536' }, { webRoot: web }));
    await waitUntil(
      async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
      'readiness',
    );
  });
  after(async () => {
    await service.stop();
    await temp.cleanup();
    await rm(web, { recursive: true, force: true });
  });

  test('every error answers Content-Type: application/json exactly, with {"error"}', async () => {
    const cases: [string, RequestInit, number][] = [
      ['/nowhere', {}, 404],
      ['/v1/models/ghost', {}, 404],
      ['/v1/models/Bad%20Name', {}, 400],
      ['/v1/models/toy:predict', { method: 'POST', body: '{not json' }, 400],
      ['/v1/models/toy:predict', { method: 'POST', body: '{"instances": [[1]]}' }, 400],
      ['/v2/models/toy/infer', { method: 'POST', body: 'x'.repeat(70_000) }, 413],
      [
        '/v2/models/toy/infer',
        { method: 'POST', body: 'x', headers: { 'content-encoding': 'zstd' } },
        415,
      ],
      ['/v2/models/toy/infer', { method: 'GET' }, 405],
      ['/v1/models/toy/versions/9', {}, 404],
      ['/mscr/models/toy/retrain', { method: 'POST' }, 403],
    ];
    for (const [where, init, status] of cases) {
      const response = await fetch(`${url}${where}`, init);
      assert.equal(response.status, status, where);
      assert.equal(response.headers.get('content-type'), 'application/json', where);
      const body = (await response.json()) as { error?: unknown };
      assert.equal(typeof body.error, 'string', where);
    }
  });

  test('TF Serving metadata: model_spec and signature_def in its JSON shape', async () => {
    for (const suffix of ['', '/versions/1', '/labels/stable']) {
      const response = await fetch(`${url}/v1/models/toy${suffix}/metadata`);
      assert.equal(response.status, 200, suffix);
      assert.deepEqual(await response.json(), {
        model_spec: { name: 'toy', signature_name: '', version: '1' },
        metadata: {
          signature_def: {
            signature_def: {
              serving_default: {
                inputs: {
                  features: {
                    dtype: 'DT_FLOAT',
                    tensor_shape: {
                      dim: [
                        { size: '-1', name: '' },
                        { size: '4', name: '' },
                      ],
                      unknown_rank: false,
                    },
                    name: 'features:0',
                  },
                },
                outputs: {
                  probabilities: {
                    dtype: 'DT_FLOAT',
                    tensor_shape: {
                      dim: [
                        { size: '-1', name: '' },
                        { size: '2', name: '' },
                      ],
                      unknown_rank: false,
                    },
                    name: 'probabilities:0',
                  },
                },
                method_name: 'tensorflow/serving/predict',
              },
            },
          },
        },
      });
    }
    assert.equal((await fetch(`${url}/v1/models/toy/versions/7/metadata`)).status, 404);
    assert.equal((await fetch(`${url}/v1/models/toy/labels/canary/metadata`)).status, 404);
    assert.equal((await fetch(`${url}/v1/models/ghost/metadata`)).status, 404);
    assert.equal((await fetch(`${url}/v1/models/toy/metadata`, { method: 'POST' })).status, 405);
  });

  test('GET / is {"status": "alive"} for API clients and the page for browsers', async () => {
    const browser = await fetch(`${url}/`, {
      headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    });
    assert.equal(browser.status, 200);
    assert.match(browser.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await browser.text(), /<title>mscr<\/title>/);
    for (const accept of [
      undefined,
      '*/*',
      'application/json',
      'application/json, text/html;q=0.5',
    ]) {
      const response = await fetch(`${url}/`, accept ? { headers: { accept } } : {});
      assert.equal(response.status, 200, accept);
      assert.equal(response.headers.get('content-type'), 'application/json', accept);
      assert.match(response.headers.get('vary') ?? '', /Accept/);
      assert.deepEqual(await response.json(), { status: 'alive' }, accept);
    }
  });

  test('the V1 model status is exactly GetModelStatusResponse unless the KServe shape is asked for', async () => {
    const strict = (await (await fetch(`${url}/v1/models/toy`)).json()) as Record<string, unknown>;
    assert.deepEqual(strict, {
      model_version_status: [
        { version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
      ],
    });
    const asked = await (await fetch(`${url}/v1/models/toy?format=kserve`)).json();
    assert.deepEqual(asked, { name: 'toy', ready: true, ...strict });
    const sdk = await (
      await fetch(`${url}/v1/models/toy`, { headers: { 'user-agent': 'python-httpx/0.28.1' } })
    ).json();
    assert.deepEqual(sdk, asked);
    const forced = await fetch(`${url}/v1/models/toy?format=tfserving`, {
      headers: { 'user-agent': 'python-httpx/0.28.1' },
    });
    assert.deepEqual(await forced.json(), strict);
    assert.equal((await fetch(`${url}/v1/models/toy?format=yaml`)).status, 400);
  });

  test('signature_name "" is the default signature; another name is a 400', async () => {
    const post = (body: unknown) =>
      fetch(`${url}/v1/models/toy:predict`, { method: 'POST', body: JSON.stringify(body) });
    const instances = [[0.5, 0.5, 0.5, 0.5]];
    assert.equal((await post({ signature_name: '', instances })).status, 200);
    assert.equal((await post({ signature_name: 'serving_default', instances })).status, 200);
    const other = await post({ signature_name: 'classify_x', instances });
    assert.equal(other.status, 400);
    assert.match(((await other.json()) as { error: string }).error, /'classify_x'/);
  });

  test('a V2 answer always has an id: the request id when the body has none', async () => {
    const input = { name: 'features', shape: [1, 4], datatype: 'FP32', data: [0.5, 0.5, 0.5, 0.5] };
    const anonymous = await fetch(`${url}/v2/models/toy/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [input] }),
    });
    const body = (await anonymous.json()) as { id?: string };
    assert.equal(typeof body.id, 'string');
    assert.equal(body.id, anonymous.headers.get('x-request-id'));
    const traced = await fetch(`${url}/v2/models/toy/infer`, {
      method: 'POST',
      headers: { 'x-request-id': 'trace-7' },
      body: JSON.stringify({ inputs: [input] }),
    });
    assert.equal(((await traced.json()) as { id?: string }).id, 'trace-7');
    const named = await fetch(`${url}/v2/models/toy/infer`, {
      method: 'POST',
      body: JSON.stringify({ id: 'mine', inputs: [input] }),
    });
    assert.equal(((await named.json()) as { id?: string }).id, 'mine');
  });

  test('readiness of an unknown version or alias is 404, like its metadata', async () => {
    assert.equal((await fetch(`${url}/v2/models/toy/versions/1/ready`)).status, 200);
    assert.equal((await fetch(`${url}/v2/models/toy/versions/stable/ready`)).status, 200);
    for (const where of ['/versions/9/ready', '/versions/canary/ready']) {
      const response = await fetch(`${url}/v2/models/toy${where}`);
      assert.equal(response.status, 404, where);
      assert.equal((await fetch(`${url}/v2/models/toy${where.replace('/ready', '')}`)).status, 404);
    }
    assert.equal((await fetch(`${url}/v2/models/ghost/ready`)).status, 404);
  });

  test('NaN, Infinity and -Infinity in V1 JSON are taken and given back as TF Serving does', async () => {
    const response = await fetch(`${url}/v1/models/toy:predict`, {
      method: 'POST',
      body: '{"instances": [[NaN, 0.5, Infinity, -Infinity], [0.5, 0.5, 0.5, 0.5]]}',
    });
    assert.equal(response.status, 200);
    const text = await response.text();
    // The toy's weights are zero: 0 x NaN is NaN, so the first row's scores are NaN tokens.
    assert.match(text, /\[NaN,NaN\]/);
    const parsed = parseTfServingJson(text) as { predictions: number[][] };
    assert.ok(parsed.predictions[0]?.every(Number.isNaN));
    assert.ok((parsed.predictions[1]?.[1] ?? 0) > 0.9);
    // In a string the token is a string, not a number: still a 400.
    const quoted = await fetch(`${url}/v1/models/toy:predict`, {
      method: 'POST',
      body: '{"instances": [["NaN", 0.5, 0.5, 0.5]]}',
    });
    assert.equal(quoted.status, 400);
    // V2 is strict JSON, as its spec says.
    const v2 = await fetch(`${url}/v2/models/toy/infer`, {
      method: 'POST',
      body: '{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [NaN, 0, 0, 0]}]}',
    });
    assert.equal(v2.status, 400);
    const broken = await fetch(`${url}/v1/models/toy:predict`, {
      method: 'POST',
      body: '{"instances": [[NaN, 0.5, 0.5, 0.5]]',
    });
    assert.equal(broken.status, 400);
    assert.match(((await broken.json()) as { error: string }).error, /not valid JSON/);
  });

  test('TF Serving :classify and :regress for tabular classifiers and regressors', async () => {
    const post = (where: string, body: unknown) =>
      fetch(`${url}/v1/models/${where}`, { method: 'POST', body: JSON.stringify(body) });
    const classified = await post('iris:classify', {
      examples: [
        { x: 1, y: 0 },
        { x: [0], y: [1] },
      ],
    });
    assert.equal(classified.status, 200);
    const { result } = (await classified.json()) as { result: [string, number][][] };
    assert.deepEqual(
      result.map((scores) => scores.map(([label]) => label)),
      [
        ['x-wins', 'y-wins'],
        ['x-wins', 'y-wins'],
      ],
    );
    assert.ok((result[0]?.[0]?.[1] ?? 0) > 0.85 && (result[1]?.[1]?.[1] ?? 0) > 0.85);
    const regressed = await post('price/versions/1:regress', {
      signature_name: '',
      context: { y: 1 },
      examples: [{ x: 1 }, { x: 3 }],
    });
    assert.equal(regressed.status, 200);
    assert.deepEqual(await regressed.json(), { result: [3.5, 5.5] });
    const bad: [string, unknown, RegExp][] = [
      ['iris:regress', { examples: [{ x: 1, y: 0 }] }, /classifier: use :classify/],
      ['price:classify', { examples: [{ x: 1, y: 0 }] }, /not a classifier/],
      ['toy:classify', { examples: [{ a: 1 }] }, /not rows of named features/],
      ['price:regress', { examples: [{ x: 1 }] }, /lacks "y"/],
      ['price:regress', { examples: [{ x: 1, z: 2 }] }, /unknown feature 'z'/],
      ['price:regress', { context: { x: 1 }, examples: [{ x: 1, y: 1 }] }, /context too/],
      ['price:regress', { examples: [{ x: 'a', y: 1 }] }, /one finite number/],
      ['price:regress', { examples: [] }, /non-empty list/],
      ['price:regress', { instances: [] }, /unknown field 'instances'/],
    ];
    for (const [where, body, error] of bad) {
      const response = await post(where, body);
      assert.equal(response.status, 400, where);
      assert.match(((await response.json()) as { error: string }).error, error, where);
    }
  });

  test('version 0 is 404; a wrong method is 405 even with an invalid segment', async () => {
    for (const where of [
      '/v1/models/toy/versions/0',
      '/v1/models/toy/versions/0/metadata',
      '/v2/models/toy/versions/0',
      '/v2/models/toy/versions/0/ready',
    ]) {
      const response = await fetch(`${url}${where}`);
      assert.equal(response.status, 404, where);
    }
    const zero = await fetch(`${url}/v1/models/toy/versions/0:predict`, {
      method: 'POST',
      body: '{"instances": [[0, 0, 0, 0]]}',
    });
    assert.equal(zero.status, 404);
    for (const [where, method, allow] of [
      ['/v1/models/Bad%20Name:predict', 'GET', 'POST'],
      ['/v1/models/toy/versions/abc:predict', 'PUT', 'POST'],
      ['/v2/models/__proto__/infer', 'GET', 'POST'],
      ['/v2/models/toy/versions/0/infer', 'GET', 'POST'],
      ['/v1/models/Bad%20Name', 'POST', 'GET'],
      ['/v2/models/Bad%20Name/ready', 'DELETE', 'GET'],
    ] as const) {
      const response = await fetch(`${url}${where}`, { method });
      assert.equal(response.status, 405, `${method} ${where}`);
      assert.equal(response.headers.get('allow'), allow, where);
    }
  });
});

test('not-ready probes are logged at debug level, not as errors', async () => {
  const temp = await tempStore();
  const lines: { level: string; msg: string; path?: string; status?: number }[] = [];
  const logger = createLogger('debug', {}, (line) => {
    lines.push(JSON.parse(line) as (typeof lines)[number]);
  });
  const { service, url } = await startService(temp.dir, { models: 'late' }, { logger });
  try {
    assert.equal((await fetch(`${url}/v2/health/ready`)).status, 503);
    assert.equal((await fetch(`${url}/v2/models/late/ready`)).status, 503);
    await waitUntil(
      () => lines.filter((l) => l.msg === 'request').length >= 2,
      'the two access log lines',
    );
    const probes = lines.filter((l) => l.msg === 'request');
    assert.deepEqual(
      probes.map((l) => [l.level, l.path, l.status]),
      [
        ['debug', '/v2/health/ready', 503],
        ['debug', '/v2/models/late/ready', 503],
      ],
    );
    assert.equal(lines.filter((l) => l.level === 'error').length, 0);
  } finally {
    await service.stop();
    await temp.cleanup();
  }
});
