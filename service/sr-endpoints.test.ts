/**
 * The Service's side of the SR connector end to end: a real HTTP server on loopback, a real
 * local store, real TF.js models in worker threads. Feedback about real predictions (classify,
 * forecast, V2 infer) and about posted inputs, stored in the real model store; every bad
 * post answered with the right status and message while the service keeps serving; signals;
 * the admin-only retrain endpoint and the runs list; the static web page.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { MscrError } from '../connectors/errors.ts';
import { createFeedbackStore } from '../connectors/sr/feedback-store.ts';
import type {
  FeedbackRecord,
  FeedbackStore,
  ModelSignals,
  RetrainLauncher,
  RetrainRun,
} from '../connectors/sr/index.ts';
import { createLocalObjectStore } from '../connectors/store/index.ts';
import type { ObjectStore } from '../connectors/store/index.ts';
import { tempStore, type TempStore } from './reload/test-support.ts';
import {
  postJson,
  publishToyClassifier,
  publishToyForecaster,
  publishToyImageClassifier,
  startService,
  toyInfer,
  waitUntil,
} from './test-support.ts';
import type { Service } from './server.ts';

const TOKEN = 'test-admin-token-0123456789abcdef';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Stands in for the real retraining launcher (a child process of `mscr retrain`, or a Job
 * from the CronJob), which the lead's end-to-end retraining test covers: it records runs in
 * memory and refuses a second start while one is running, as the real one does with its lease.
 */
class InMemoryLauncher implements RetrainLauncher {
  readonly started: { model: string; trigger: RetrainRun['trigger'] }[] = [];
  readonly #runs: RetrainRun[] = [];

  async start(model: string, trigger: RetrainRun['trigger']): Promise<{ runId: string }> {
    if (this.#runs.some((run) => run.model === model && run.outcome === 'running'))
      throw new MscrError('conflict', `a retraining run of ${model} is already running`);
    const id = `run-${this.#runs.length + 1}`;
    this.started.push({ model, trigger });
    this.#runs.push({
      id,
      model,
      trigger,
      startedAt: new Date().toISOString(),
      outcome: 'running',
    });
    return { runId: id };
  }

  finishAll(): void {
    for (const run of this.#runs) run.outcome = 'published';
  }

  async runs(model: string, options: { limit?: number } = {}): Promise<RetrainRun[]> {
    return this.#runs
      .filter((run) => run.model === model)
      .reverse()
      .slice(0, options.limit ?? 20);
  }
}

async function getJson(url: string, init: RequestInit = {}) {
  const response = await fetch(url, init);
  return { response, status: response.status, json: (await response.json()) as unknown };
}

async function png(colour: string, size = 8): Promise<Buffer> {
  return sharp({
    create: { width: size, height: size, channels: 3, background: colour },
  })
    .png()
    .toBuffer();
}

function ready(url: string): Promise<void> {
  return waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'readiness');
}

describe('feedback, signals and retraining over HTTP', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  let feedback: FeedbackStore;
  const launcher = new InMemoryLauncher();

  before(async () => {
    temp = await tempStore();
    await publishToyClassifier(temp.store, 'toy', 0);
    await publishToyClassifier(temp.store, 'sig', 0);
    await publishToyForecaster(temp.store, 'prices');
    await publishToyImageClassifier(temp.store, 'pets');
    ({ service, url } = await startService(
      temp.dir,
      { adminToken: TOKEN, maxBodyBytes: '65536' },
      { retrain: launcher },
    ));
    feedback = createFeedbackStore(createLocalObjectStore(temp.dir));
    await ready(url);
  });
  after(async () => {
    await service.stop();
    await temp.cleanup();
  });

  async function stored(model: string, id: string, quarantined = false): Promise<FeedbackRecord> {
    const record = (await feedback.list(model, { quarantined })).find((r) => r.id === id);
    assert.ok(record, `feedback ${id} of ${model} is in the store`);
    return record;
  }

  test('classify gives a prediction id; feedback about it is judged and stored with the image as posted', async () => {
    const image = await png('#3366cc');
    const classify = await getJson(`${url}/mscr/models/pets/classify`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: image,
    });
    assert.equal(classify.status, 200);
    const answer = classify.json as { predictions: { label: string }[][]; predictionIds: string[] };
    assert.equal(answer.predictions[0]?.[0]?.label, 'cat');
    assert.equal(answer.predictionIds.length, 1);
    const predictionId = answer.predictionIds[0] as string;
    assert.match(predictionId, UUID);

    const wrong = await postJson(`${url}/mscr/models/pets/feedback`, {
      predictionId,
      label: 'dog',
    });
    assert.equal(wrong.status, 201);
    assert.match(String(wrong.json.id), UUID);
    assert.deepEqual(
      { ...wrong.json, id: 'x' },
      { id: 'x', model: 'pets', version: 1, label: 'dog', correct: false },
    );
    const record = await stored('pets', String(wrong.json.id));
    assert.equal(record.predictionId, predictionId);
    assert.equal(record.predicted, 'cat');
    assert.equal(record.labelIndex, 1);
    assert.equal(record.inputFile, `${record.id}.png`);
    const input = await feedback.readInput(record);
    assert.equal(input?.kind, 'image');
    assert.deepEqual(Buffer.from((input as { bytes: Uint8Array }).bytes), image);
    const day = record.receivedAt.slice(0, 10);
    const files = await fs.readdir(path.join(temp.dir, 'pets', 'feedback', day));
    assert.deepEqual(files.sort(), [`${record.id}.json`, `${record.id}.png`]);

    const again = await postJson(`${url}/mscr/models/pets/feedback`, {
      predictionId,
      label: 'cat',
    });
    assert.equal(again.status, 409);
    assert.match(String(again.json.error), /already recorded/);
  });

  test('feedback with the input itself: an image as base64, a tensor; no prediction, so not judged, and quarantined', async () => {
    const image = await png('#00ff00');
    const byImage = await postJson(`${url}/mscr/models/pets/feedback`, {
      input: { image_b64: `data:image/png;base64,${image.toString('base64')}` },
      label: 1,
    });
    assert.equal(byImage.status, 201);
    assert.deepEqual(
      { ...byImage.json, id: 'x' },
      { id: 'x', model: 'pets', label: 'dog', quarantined: true },
    );
    const record = await stored('pets', String(byImage.json.id), true);
    assert.equal(record.version, undefined);
    assert.equal(record.correct, undefined);
    assert.equal(record.trust, 'anonymous');
    const input = await feedback.readInput(record, { quarantined: true });
    assert.deepEqual(Buffer.from((input as { bytes: Uint8Array }).bytes), image);

    const byTensor = await postJson(`${url}/mscr/models/toy/feedback`, {
      input: { data: [0.1, 0.2, 0.3, 0.4], shape: [4] },
      label: 'high',
    });
    assert.equal(byTensor.status, 201);
    const tensorRecord = await stored('toy', String(byTensor.json.id), true);
    assert.deepEqual(await feedback.readInput(tensorRecord, { quarantined: true }), {
      kind: 'tensor',
      shape: [4],
      data: [0.1, 0.2, 0.3, 0.4],
    });

    // An id this replica forgot, with the input as well: stored, not judged.
    const forgotten = await postJson(`${url}/mscr/models/toy/feedback`, {
      predictionId: '00000000-0000-4000-8000-000000000000',
      input: { data: [1, 1, 1, 1], shape: [4] },
      label: 'low',
    });
    assert.equal(forgotten.status, 201);
    assert.equal(forgotten.json.correct, undefined);
  });

  test('V2 infer gives one prediction id per row in the response parameters; feedback by id is judged', async () => {
    const infer = await postJson(`${url}/v2/models/toy/infer`, toyInfer(3));
    assert.equal(infer.status, 200);
    const ids = String((infer.json.parameters as Record<string, unknown>).prediction_ids).split(
      ',',
    );
    assert.equal(ids.length, 3);
    assert.ok(ids.every((id) => UUID.test(id)));
    assert.equal(new Set(ids).size, 3);

    const right = await postJson(`${url}/mscr/models/toy/feedback`, {
      predictionId: ids[0],
      label: 'low',
    });
    assert.equal(right.status, 201);
    assert.equal(right.json.correct, true);
    const wrong = await postJson(`${url}/mscr/models/toy/feedback`, {
      predictionId: ids[1],
      label: 1,
    });
    assert.equal(wrong.json.correct, false);
    const record = await stored('toy', String(wrong.json.id));
    assert.deepEqual(await feedback.readInput(record), {
      kind: 'tensor',
      shape: [4],
      data: [0.5, 0.5, 0.5, 0.5],
    });

    // Binary outputs (tritonclient's default) carry the ids the same way.
    const binary = await fetch(`${url}/v2/models/toy/infer`, {
      method: 'POST',
      body: JSON.stringify({ ...toyInfer(1), parameters: { binary_data_output: true } }),
    });
    const headerLength = Number(binary.headers.get('inference-header-content-length'));
    const header = JSON.parse(
      Buffer.from(await binary.arrayBuffer())
        .subarray(0, headerLength)
        .toString(),
    ) as { parameters: { prediction_ids: string } };
    assert.match(header.parameters.prediction_ids, UUID);
  });

  test('forecast gives a prediction id; feedback is the actual value, stored with the window as CSV', async () => {
    const csv = 'Date,Open,Close\n2025-01-01,110,120\n2025-01-02,120,130\n2025-01-03,130,140\n';
    const forecast = await getJson(`${url}/mscr/models/prices/forecast`, {
      method: 'POST',
      body: csv,
    });
    assert.equal(forecast.status, 200);
    const answer = forecast.json as { forecast: number[]; predictionIds: string[] };
    assert.ok(Math.abs((answer.forecast[0] as number) - 150) < 1e-3);
    const response = await postJson(`${url}/mscr/models/prices/feedback`, {
      predictionId: answer.predictionIds[0],
      actual: 160,
    });
    assert.equal(response.status, 201);
    assert.deepEqual(
      { ...response.json, id: 'x' },
      { id: 'x', model: 'prices', version: 1, actual: 160 },
    );
    const record = await stored('prices', String(response.json.id));
    assert.ok(Math.abs((record.predicted as number) - 150) < 1e-3);
    assert.deepEqual(await feedback.readInput(record), {
      kind: 'csv',
      text: 'Open,Close\n110,120\n120,130\n130,140\n',
    });
    const signals = (await getJson(`${url}/mscr/models/prices/signals`)).json as ModelSignals;
    assert.equal(signals.predictions, 1);
    assert.ok(Math.abs((signals.predictionMean as number) - 150) < 1e-3);
    assert.equal(signals.predictionStd, 0);
    assert.ok(Math.abs((signals.feedback.meanAbsoluteError as number) - 10) < 1e-3);
    assert.ok(Math.abs((signals.feedback.rootMeanSquaredError as number) - 10) < 1e-3);
    assert.ok(Math.abs((signals.feedback.meanAbsolutePercentageError as number) - 10 / 160) < 1e-5);
    // The naive forecast (the window's last Close, 140) was off by 20 on the same day.
    assert.ok(Math.abs((signals.feedback.naiveMeanAbsoluteError as number) - 20) < 1e-3);
    assert.equal(signals.feedback.judgedValues, 1);
    assert.equal(signals.feedback.naiveJudged, 1);
    assert.equal(signals.feedback.accuracy, undefined);
    assert.deepEqual(signals.reference, { predictionMean: 150, predictionStd: 1 });
  });

  test('signals: predictions, classes, confidence and feedback of the serving version; a new version starts afresh', async () => {
    const empty = (await getJson(`${url}/mscr/models/sig/signals`)).json as ModelSignals;
    assert.equal(empty.version, 1);
    assert.equal(empty.predictions, 0);
    assert.deepEqual(empty.predictedClasses, { low: 0, high: 0 });
    assert.deepEqual(empty.feedback, { count: 0, judged: 0, correct: 0 });
    // Quarantined feedback (its input is the caller's word) is not counted below.

    const infer = await postJson(`${url}/v2/models/sig/infer`, toyInfer(4));
    const ids = String((infer.json.parameters as Record<string, string>).prediction_ids).split(',');
    await postJson(`${url}/v1/models/sig:predict`, { instances: [[0, 0, 0, 0]] });
    for (const [i, label] of ['low', 'low', 'high'].entries())
      assert.equal(
        (await postJson(`${url}/mscr/models/sig/feedback`, { predictionId: ids[i], label })).status,
        201,
      );
    await postJson(`${url}/mscr/models/sig/feedback`, {
      input: { data: [0, 0, 0, 0], shape: [4] },
      label: 'high',
    });
    const signals = (await getJson(`${url}/mscr/models/sig/signals`)).json as ModelSignals;
    assert.equal(signals.predictions, 5, 'V2 rows and V1 instances count');
    assert.deepEqual(signals.predictedClasses, { low: 5, high: 0 });
    // softmax(2, -2): 0.982, the top bin.
    assert.deepEqual(signals.confidenceHistogram, [0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
    assert.equal(signals.feedback.count, 3);
    assert.equal(signals.feedback.judged, 3);
    assert.equal(signals.feedback.correct, 2);
    assert.ok(Math.abs((signals.feedback.accuracy as number) - 2 / 3) < 1e-9);
    assert.ok(Date.parse(signals.since) <= Date.now());

    const reference = { classFrequencies: [0.2, 0.8] };
    await publishToyClassifier(temp.store, 'sig', 1, 2, { reference });
    await waitUntil(
      async () =>
        ((await getJson(`${url}/mscr/models/sig/signals`)).json as ModelSignals).version === 2,
      'the window of version 2',
    );
    const fresh = (await getJson(`${url}/mscr/models/sig/signals`)).json as ModelSignals;
    assert.equal(fresh.predictions, 0);
    assert.equal(fresh.feedback.count, 0);
    assert.deepEqual(fresh.reference, reference);
    assert.ok(Date.parse(fresh.since) > Date.parse(signals.since));
    // Feedback about version 1's prediction still counts, but judges nothing of version 2.
    const late = await postJson(`${url}/mscr/models/sig/feedback`, {
      predictionId: ids[3],
      label: 'low',
    });
    assert.equal(late.json.version, 1);
    const after = (await getJson(`${url}/mscr/models/sig/signals`)).json as ModelSignals;
    assert.deepEqual(after.feedback, { count: 1, judged: 0, correct: 0 });
  });

  describe('bad feedback gets a 4xx with {"error"} and the service keeps serving', () => {
    let predictionId = '';
    before(async () => {
      const infer = await postJson(`${url}/v2/models/toy/infer`, toyInfer(1));
      predictionId = String((infer.json.parameters as Record<string, string>).prediction_ids);
    });
    const cases: {
      name: string;
      path?: string;
      body: () => string;
      method?: string;
      status: number;
      error: RegExp;
    }[] = [
      { name: 'malformed JSON', body: () => '{"label": ', status: 400, error: /not valid JSON/ },
      { name: 'an empty body', body: () => '', status: 400, error: /empty/ },
      { name: 'a JSON array', body: () => '[1]', status: 400, error: /JSON object/ },
      {
        name: 'neither id nor input',
        body: () => '{"label": "low"}',
        status: 400,
        error: /predictionId .* or the input/,
      },
      {
        name: 'a missing label',
        body: () => JSON.stringify({ predictionId }),
        status: 400,
        error: /send "label".*low, high/,
      },
      {
        name: 'an unknown label',
        body: () => JSON.stringify({ predictionId, label: 'medium' }),
        status: 400,
        error: /"medium" is not one of model toy's labels: low, high/,
      },
      {
        name: 'a label index out of range',
        body: () => JSON.stringify({ predictionId, label: 2 }),
        status: 400,
        error: /out of range/,
      },
      {
        name: 'an actual value for a classifier',
        body: () => JSON.stringify({ predictionId, actual: 1 }),
        status: 400,
        error: /classifier: send "label"/,
      },
      {
        name: 'a non-finite actual value',
        path: '/mscr/models/prices/feedback',
        body: () => `{"input": {"data": [0,0,0,0,0,0], "shape": [3, 2]}, "actual": 1e999}`,
        status: 400,
        error: /actual must be a finite number/,
      },
      {
        name: 'a label for a forecaster',
        path: '/mscr/models/prices/feedback',
        body: () => `{"input": {"data": [0,0,0,0,0,0], "shape": [3, 2]}, "label": "up"}`,
        status: 400,
        error: /send "actual"/,
      },
      {
        name: 'an unknown model',
        path: '/mscr/models/ghost/feedback',
        body: () => JSON.stringify({ predictionId, label: 'low' }),
        status: 404,
        error: /unknown model "ghost"/,
      },
      {
        name: 'an unknown prediction id',
        body: () =>
          JSON.stringify({ predictionId: '11111111-1111-4111-8111-111111111111', label: 'low' }),
        status: 404,
        error: /unknown here.*send the input itself/,
      },
      {
        name: 'a prediction id of another model',
        path: '/mscr/models/sig/feedback',
        body: () => JSON.stringify({ predictionId, label: 'low' }),
        status: 400,
        error: /made by model toy, not sig/,
      },
      {
        name: 'a hostile prediction id',
        body: () => JSON.stringify({ predictionId: '../../x', label: 'low' }),
        status: 400,
        error: /predictionId must be/,
      },
      {
        name: 'prototype pollution keys',
        body: () => `{"__proto__": {"polluted": true}, "predictionId": "${predictionId}"}`,
        status: 400,
        error: /unknown field "__proto__"/,
      },
      {
        name: 'an input of the wrong shape',
        body: () => JSON.stringify({ input: { data: [1, 2, 3], shape: [3] }, label: 'low' }),
        status: 400,
        error: /input.shape must be .*\[4\]/,
      },
      {
        name: 'an input with NaN strings',
        body: () => JSON.stringify({ input: { data: ['NaN', 1, 1, 1], shape: [4] }, label: 0 }),
        status: 400,
        error: /finite numbers/,
      },
      {
        name: 'an image for a tabular model',
        body: () => JSON.stringify({ input: { image_b64: 'iVBORw0KGgo=' }, label: 0 }),
        status: 400,
        error: /./,
      },
      {
        name: 'an image that is not base64',
        path: '/mscr/models/pets/feedback',
        body: () => JSON.stringify({ input: { image_b64: '<script>' }, label: 'cat' }),
        status: 400,
        error: /not base64/,
      },
      {
        name: 'base64 that is no image',
        path: '/mscr/models/pets/feedback',
        body: () =>
          JSON.stringify({
            input: { image_b64: Buffer.from('hello').toString('base64') },
            label: 0,
          }),
        status: 400,
        error: /not a PNG, JPEG, GIF or WebP image/,
      },
      {
        name: 'an oversized body',
        body: () => JSON.stringify({ input: { data: new Array(40_000).fill(1), shape: [4] } }),
        status: 413,
        error: /larger than the limit/,
      },
      {
        name: 'a hostile model name',
        path: '/mscr/models/..%2F..%2Fetc/feedback',
        body: () => '{}',
        status: 400,
        error: /invalid model name/,
      },
      {
        name: 'a version in the path',
        path: '/mscr/models/toy/versions/1/feedback',
        body: () => '{}',
        status: 404,
        error: /no route/,
      },
      {
        name: 'the wrong method',
        method: 'PUT',
        body: () => '{}',
        status: 405,
        error: /takes POST/,
      },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const response = await fetch(`${url}${c.path ?? '/mscr/models/toy/feedback'}`, {
          method: c.method ?? 'POST',
          headers: { 'content-type': 'application/json' },
          body: c.body(),
        });
        assert.equal(response.status, c.status);
        const body = (await response.json()) as { error?: unknown };
        assert.equal(typeof body.error, 'string');
        assert.match(body.error as string, c.error);
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
        assert.equal((await postJson(`${url}/v2/models/toy/infer`, toyInfer())).status, 200);
      });
    }
    test('after all that, the valid feedback is still taken', async () => {
      const ok = await postJson(`${url}/mscr/models/toy/feedback`, { predictionId, label: 0 });
      assert.equal(ok.status, 201);
      assert.equal(ok.json.correct, true);
    });
  });

  describe('retraining over HTTP', () => {
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });

    test('no token or a wrong one: 401 with WWW-Authenticate, and nothing starts', async () => {
      for (const headers of [
        {},
        auth('wrong-token-0123456789abcdef00000'),
        { authorization: TOKEN },
        auth(TOKEN.slice(0, -1)),
      ]) {
        const { response, status, json } = await getJson(`${url}/mscr/models/toy/retrain`, {
          method: 'POST',
          headers,
        });
        assert.equal(status, 401, JSON.stringify(headers));
        assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
        assert.match((json as { error: string }).error, /admin token/);
      }
      assert.equal(launcher.started.length, 0);
    });

    test('the right token starts a run (202), a second one while it runs is a 409, runs lists them', async () => {
      const started = await getJson(`${url}/mscr/models/toy/retrain`, {
        method: 'POST',
        headers: { authorization: `bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'accuracy dropped' }),
      });
      assert.equal(started.status, 202);
      assert.deepEqual(started.json, { model: 'toy', runId: 'run-1', state: 'started' });
      assert.equal(started.response.headers.get('location'), '/mscr/models/toy/runs');
      assert.deepEqual(launcher.started[0], {
        model: 'toy',
        trigger: { kind: 'request', reason: 'accuracy dropped' },
      });
      const conflict = await getJson(`${url}/mscr/models/toy/retrain`, {
        method: 'POST',
        headers: auth(TOKEN),
      });
      assert.equal(conflict.status, 409);
      assert.match((conflict.json as { error: string }).error, /already running/);
      launcher.finishAll();
      const second = await getJson(`${url}/mscr/models/toy/retrain`, {
        method: 'POST',
        headers: auth(TOKEN),
      });
      assert.equal(second.status, 202, 'no body is fine');
      assert.deepEqual(launcher.started[1]?.trigger, { kind: 'request' });

      const runs = await getJson(`${url}/mscr/models/toy/runs`);
      assert.equal(runs.status, 200);
      assert.deepEqual(
        (runs.json as RetrainRun[]).map((r) => [r.id, r.outcome]),
        [
          ['run-2', 'running'],
          ['run-1', 'published'],
        ],
      );
      const one = await getJson(`${url}/mscr/models/toy/runs?limit=1`);
      assert.equal((one.json as RetrainRun[]).length, 1);
      assert.deepEqual((await getJson(`${url}/mscr/models/sig/runs`)).json, []);
    });

    test('bad retrain and runs requests', async () => {
      const cases: [string, RequestInit, number, RegExp][] = [
        [
          '/mscr/models/ghost/retrain',
          { method: 'POST', headers: auth(TOKEN) },
          404,
          /unknown model/,
        ],
        [
          '/mscr/models/toy/retrain',
          { method: 'POST', headers: auth(TOKEN), body: '{"reason": 5}' },
          400,
          /reason must be a string/,
        ],
        [
          '/mscr/models/toy/retrain',
          { method: 'POST', headers: auth(TOKEN), body: '{"epochs": 5}' },
          400,
          /unknown field "epochs"/,
        ],
        ['/mscr/models/toy/runs?limit=0', {}, 400, /limit must be an integer from 1 to 1000/],
        ['/mscr/models/toy/runs?limit=abc', {}, 400, /limit must be/],
        ['/mscr/models/ghost/runs', {}, 404, /unknown model/],
        ['/mscr/models/toy/retrain', { method: 'GET' }, 405, /takes POST/],
      ];
      for (const [where, init, status, error] of cases) {
        const result = await getJson(`${url}${where}`, init);
        assert.equal(result.status, status, where);
        assert.match((result.json as { error: string }).error, error, where);
      }
    });
  });

  test('metrics count feedback by outcome and show the prediction log', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, /mscr_feedback_total\{model="toy",outcome="correct"\} [1-9]/);
    assert.match(text, /mscr_feedback_total\{model="toy",outcome="incorrect"\} [1-9]/);
    assert.match(text, /mscr_feedback_total\{model="pets",outcome="quarantined"\} 1/);
    assert.match(text, /mscr_prediction_log_entries [1-9]/);
    assert.match(text, /mscr_prediction_log_bytes [1-9]/);
    assert.match(text, /mscr_forecast_value_count\{model="prices",version="1"\} 1/);
    assert.match(
      text,
      /mscr_requests_total\{model="toy",version="1",protocol="sr",status="201"\} [1-9]/,
    );
  });
});

test('a store outage: feedback answers 503, nothing is half-written, and it is taken once the store is back', async () => {
  const temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 0);
  // The real local store with an injected outage (tests run as root: permissions cannot fail it).
  // 'all': every call fails; 'record': only the record's write fails, after its input was
  // written (the worst moment: the input must go again).
  const real = createLocalObjectStore(temp.dir);
  let outage: 'none' | 'all' | 'record' = 'none';
  const fail = <T>(run: () => Promise<T>, record = false): Promise<T> =>
    outage === 'all' || (outage === 'record' && record)
      ? Promise.reject(new MscrError('unavailable', `outage at ${real.uri}`))
      : run();
  const objects: ObjectStore = {
    uri: real.uri,
    get: (key) => fail(() => real.get(key)),
    stat: (key) => fail(() => real.stat(key)),
    put: (key, body) => fail(() => real.put(key, body)),
    putIfAbsent: (key, body) =>
      fail(() => real.putIfAbsent(key, body), !key.endsWith('.tensor.json')),
    list: (prefix) => fail(() => real.list(prefix)),
    delete: (key) => fail(() => real.delete(key)),
  };
  const leftovers = async () => {
    const folder = path.join(temp.dir, 'toy', 'feedback');
    const files = await fs.readdir(folder, { recursive: true }).catch(() => [] as string[]);
    return files.filter((f) => f.includes('.'));
  };
  const { service, url } = await startService(
    temp.dir,
    { adminToken: TOKEN },
    { feedbackStore: createFeedbackStore(objects) },
  );
  try {
    await ready(url);
    const infer = await postJson(`${url}/v2/models/toy/infer`, toyInfer(1));
    const predictionId = String((infer.json.parameters as Record<string, string>).prediction_ids);
    for (const kind of ['all', 'record'] as const) {
      outage = kind;
      const down = await postJson(`${url}/mscr/models/toy/feedback`, {
        predictionId,
        label: 'low',
      });
      outage = 'none';
      assert.equal(down.status, 503, kind);
      assert.match(String(down.json.error), /not recorded.*try again/);
      assert.doesNotMatch(String(down.json.error), new RegExp(temp.dir), 'no server paths');
      assert.deepEqual(await leftovers(), [], `${kind}: no record and no input`);
    }
    const signals = (await (await fetch(`${url}/mscr/models/toy/signals`)).json()) as ModelSignals;
    assert.equal(signals.feedback.count, 0);

    const back = await postJson(`${url}/mscr/models/toy/feedback`, { predictionId, label: 'low' });
    assert.equal(back.status, 201);
    assert.equal(back.json.correct, true);

    // A token but no launcher: the retraining endpoints say so.
    const retrain = await fetch(`${url}/mscr/models/toy/retrain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(retrain.status, 501);
    assert.match(((await retrain.json()) as { error: string }).error, /not set up/);
    assert.equal((await fetch(`${url}/mscr/models/toy/runs`)).status, 501);
  } finally {
    await service.stop();
    await temp.cleanup();
  }
});

test('the web page is served at / beside the API; no listings, no dotfiles; the API still answers JSON 404s', async () => {
  const temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 0);
  const web = path.join(temp.dir, '..', `${path.basename(temp.dir)}-web`);
  await fs.mkdir(path.join(web, 'empty'), { recursive: true });
  await fs.writeFile(path.join(web, 'index.html'), '<!doctype html><title>mscr</title>');
  await fs.writeFile(path.join(web, 'app.js'), 'console.log("mscr")');
  await fs.writeFile(path.join(web, '.env'), 'SECRET=1');
  const { service, url } = await startService(temp.dir, {}, { webRoot: web });
  try {
    await ready(url);
    // As a browser asks (API clients get KServe V1's {"status": "alive"} at `/`).
    const page = await fetch(`${url}/`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.match(await page.text(), /<title>mscr<\/title>/);
    const script = await fetch(`${url}/app.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('cache-control') ?? '', /max-age=300/);
    assert.equal(script.headers.get('x-content-type-options'), 'nosniff');
    await script.text();
    assert.equal((await fetch(`${url}/`, { method: 'HEAD' })).status, 200);
    for (const where of [
      '/.env',
      '/empty/',
      '/nothing.html',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/v2/nothing',
    ]) {
      const response = await fetch(`${url}${where}`);
      assert.equal(response.status, 404, where);
      const body = (await response.json()) as { error: string };
      assert.match(body.error, /no route/, where);
    }
    assert.equal((await fetch(`${url}/`, { method: 'POST' })).status, 404);
    assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);

    // Without an admin token, retraining over HTTP is off.
    const retrain = await fetch(`${url}/mscr/models/toy/retrain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(retrain.status, 403);
    assert.deepEqual(await retrain.json(), {
      error: 'retraining over HTTP is disabled: set MSCR_ADMIN_TOKEN',
    });
  } finally {
    await service.stop();
    await temp.cleanup();
    await fs.rm(web, { recursive: true, force: true });
  }
});
