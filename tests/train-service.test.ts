/**
 * Training and evaluation as a service (issue 18), every part real: a forecaster trained on
 * the real GOOG series serves; `POST /mscr/train` starts a search of several candidates as a
 * child `mscr retrain` through the same launcher as retraining; its progress is read as
 * Server-Sent Events by fetch (the raw wire format) and by the SDK; the best candidate alone
 * is gated and at most it is published; `POST /mscr/models/{m}/evaluate` scores a version in
 * a child process while the Service keeps answering. Hostile and malformed input to every
 * new route is a 4xx `{"error"}` naming the field, and the Service keeps serving.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createClient, parseEventStream, type TrainEvent } from '../client/index.ts';
import { createLocalEvaluator, createLocalLauncher } from '../cli/retrain-launcher.ts';
import type { RetrainRun } from '../connectors/sr/index.ts';
import { createRunStore, newRunId } from '../connectors/sr/run-store.ts';
import type { ProgressEntry } from '../connectors/sr/train.ts';
import { openObjectStore, openStore } from '../connectors/store/index.ts';
import { listArchitectures } from '../model/architectures/index.ts';
import { trainModel } from '../model/pipeline/index.ts';
import type { Service } from '../service/server.ts';
import { startService, waitUntil } from '../service/test-support.ts';
import { runMscr } from './run-mscr.ts';
import { sharedData } from './shared-data.ts';

const TOKEN = 'train-service-test-token-0123456789';
const MODEL = 'goog-linear';
const auth = { authorization: `Bearer ${TOKEN}` };

let dir: string;
let dataDir: string;
let csvUri: string;
let store: string;
let service: Service;
let url: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mscr-train-service-'));
  dataDir = join(dir, 'data');
  await mkdir(dataDir);
  await copyFile(sharedData('stock/goog_daily.csv'), join(dataDir, 'goog.csv'));
  csvUri = `file://${join(dataDir, 'goog.csv')}`;
  store = `file://${join(dir, 'models')}`;
  await trainModel({
    model: MODEL,
    architecture: 'linear',
    data: [join(dataDir, 'goog.csv')],
    store: openStore(store),
    epochs: 1,
    backend: 'wasm',
    onnx: false,
  });
  ({ service, url } = await startService(
    store,
    { adminToken: TOKEN },
    {
      retrain: createLocalLauncher({
        store,
        data: [],
        extraArgs: ['--backend', 'wasm'],
        logDir: join(dir, 'logs'),
      }),
      train: {
        fileRoots: [dataDir],
        architectures: listArchitectures().map((a) => a.name),
        evaluator: createLocalEvaluator({ store, backend: 'wasm' }),
        pollMs: 100,
        heartbeatMs: 100,
        retryMs: 1500,
        maxStreams: 2,
      },
    },
  ));
  await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
});

after(async () => {
  await service?.stop();
  await rm(dir, { recursive: true, force: true });
});

function post(path: string, body: unknown, headers: Record<string, string> = auth) {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The record of a run that is still running, with no job behind it. */
function runningRecord(runId: string): RetrainRun {
  return {
    id: runId,
    model: MODEL,
    trigger: { kind: 'request' },
    startedAt: new Date().toISOString(),
    outcome: 'running',
  };
}

/** Forecasts until `done` resolves; returns how many were answered 200 and how many not. */
async function forecastsUntil(done: Promise<unknown>): Promise<{ ok: number; failed: number }> {
  let finished = false;
  void done.finally(() => (finished = true));
  const window = 'Open,High,Low,Volume,Close\n' + '100,101,99,1000,100\n'.repeat(7);
  const counts = { ok: 0, failed: 0 };
  while (!finished) {
    const response = await fetch(`${url}/mscr/models/${MODEL}/forecast`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: window,
    });
    await response.arrayBuffer();
    if (response.status === 200) counts.ok++;
    else counts.failed++;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return counts;
}

describe('POST /mscr/train: several candidates, progress as SSE, the best gated', () => {
  let id: string;
  let report: RetrainRun;

  test('202 with an id and Location; the SSE stream carries epochs, trials and the report; the Service keeps serving', async () => {
    const response = await post('/mscr/train', {
      model: MODEL,
      architecture: 'linear',
      data: csvUri,
      hyperparameters: { epochs: 1, seed: 7 },
      search: { mode: 'grid', space: { lr: [0.001, 0.01], batchSize: [16, 32] }, trials: 3 },
    });
    const started = (await response.json()) as { id: string; runId: string; state: string };
    assert.equal(response.status, 202, JSON.stringify(started));
    assert.equal(started.state, 'started');
    assert.equal(started.id, `${MODEL}~${started.runId}`);
    id = started.id;
    assert.equal(response.headers.get('location'), `/mscr/train/${encodeURIComponent(id)}`);

    // A real client reads the raw stream: fetch with Accept: text/event-stream.
    const streamed = (async () => {
      const sse = await fetch(`${url}/mscr/train/${id}`, {
        headers: { ...auth, accept: 'text/event-stream' },
      });
      assert.equal(sse.status, 200);
      assert.match(sse.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.match(sse.headers.get('cache-control') ?? '', /no-cache/);
      return sse.text(); // the server closes the stream after the report
    })();
    const serving = await forecastsUntil(streamed);
    const text = await streamed;
    assert.ok(serving.ok > 0, 'forecasts answered during the training');
    assert.equal(serving.failed, 0);

    assert.ok(text.startsWith('retry: 1500\n\n'), text.slice(0, 40));
    assert.match(text, /^: keep-alive /m, 'heartbeat comments');
    // Blocks: blank-line separated; each event an id, an event name and one JSON data line.
    const blocks = text
      .split('\n\n')
      .filter((b) => b !== '' && !b.startsWith(':') && !b.startsWith('retry:'));
    const events = blocks.map((block) => {
      const lines = block.split('\n').filter((l) => !l.startsWith(':'));
      const field = (name: string) =>
        lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
      return {
        id: field('id'),
        event: field('event'),
        data: JSON.parse(field('data') ?? 'null') as unknown,
      };
    });
    const last = events.at(-1);
    assert.equal(last?.event, 'report');
    assert.equal(last?.id, 'done');
    report = last?.data as RetrainRun;
    const progress = events.slice(0, -1).map((e) => e.data as ProgressEntry);
    const ids = events.slice(0, -1).map((e) => Number(e.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'ids increase',
    );
    assert.equal(new Set(ids).size, ids.length);
    const epochs = progress.filter((p) => p.type === 'epoch');
    assert.deepEqual(
      [...new Set(epochs.map((e) => (e.type === 'epoch' ? e.trial : 0)))],
      [1, 2, 3],
      'an epoch event per trial',
    );
    assert.equal(progress.filter((p) => p.type === 'trial').length, 3);

    // The report: three trials, each with hyperparameters, metrics and duration; one best.
    assert.notEqual(report.outcome, 'running');
    assert.notEqual(report.outcome, 'failed', report.message);
    assert.equal(report.trials?.length, 3);
    assert.deepEqual(
      report.trials?.map((t) => t.hyperparameters),
      [
        { learningRate: 0.001, batchSize: 16 },
        { learningRate: 0.001, batchSize: 32 },
        { learningRate: 0.01, batchSize: 16 },
      ],
    );
    for (const trial of report.trials ?? []) {
      assert.equal(typeof trial.metrics?.rmse, 'number');
      assert.ok(trial.durationMs >= 0);
    }
    const best = (report.trials ?? []).filter((t) => t.best);
    assert.equal(best.length, 1);
    const lowest = Math.min(...(report.trials ?? []).map((t) => t.metrics?.rmse ?? Infinity));
    assert.equal(best[0]?.metrics?.rmse, lowest, 'the best is the lowest rmse');
    assert.equal(report.candidate?.trial, best[0]?.trial);
    assert.deepEqual(report.candidate?.metrics, best[0]?.metrics);
    assert.equal(report.baseline?.version, 1, 'gated against the serving version');

    // Only the best can have been published.
    const versions = await openStore(store).listVersions(MODEL);
    if (report.outcome === 'published') {
      assert.deepEqual(versions, [1, 2]);
      const manifest = await openStore(store).readManifest(MODEL, 2);
      assert.equal(manifest.training.learningRate, best[0]?.hyperparameters.learningRate);
      assert.equal(manifest.training.batchSize, best[0]?.hyperparameters.batchSize);
    } else {
      assert.deepEqual(versions, [1]);
    }
  });

  test('GET /mscr/train/{id} answers the record as JSON; the SDK follows the finished run to its report', async () => {
    const response = await fetch(`${url}/mscr/train/${id}`, { headers: auth });
    assert.equal(response.status, 200);
    const record = (await response.json()) as RetrainRun;
    assert.equal(record.outcome, report.outcome);
    assert.ok((record.progress?.length ?? 0) > 0);

    const client = createClient({ baseUrl: url });
    assert.equal((await client.trainStatus(id, { token: TOKEN })).id, record.id);
    const seen: TrainEvent[] = [];
    for await (const event of client.trainEvents(id, { token: TOKEN })) seen.push(event);
    assert.equal(seen.at(-1)?.event, 'report');
    assert.equal(seen.filter((e) => e.event === 'trial').length, 3);

    // Resuming after entry n gives the entries after n; after the report, 204 (EventSource stops).
    const resumed = await fetch(`${url}/mscr/train/${id}`, {
      headers: { ...auth, accept: 'text/event-stream', 'last-event-id': '3' },
    });
    const ids: string[] = [];
    for await (const event of parseEventStream(resumed.body as ReadableStream<Uint8Array>)) {
      if (event.id !== undefined) ids.push(event.id);
    }
    assert.ok(ids.length > 0 && ids.slice(0, -1).every((i) => Number(i) > 3), ids.join(','));
    const done = await fetch(`${url}/mscr/train/${id}`, {
      headers: { ...auth, accept: 'text/event-stream', 'last-event-id': 'done' },
    });
    assert.equal(done.status, 204);
  });

  test('409 while a run holds the model; unknown and malformed ids are 404; no token is 401', async () => {
    const runs = createRunStore(openObjectStore(store));
    const lease = await runs.acquire(MODEL, newRunId(), 60_000);
    try {
      const response = await post('/mscr/train', { model: MODEL, data: csvUri });
      assert.equal(response.status, 409);
      assert.match(((await response.json()) as { error: string }).error, /already running/);
    } finally {
      await runs.release(lease);
    }
    for (const bad of [
      `${MODEL}~20261203T000000Z-00000000`,
      'nothing',
      '..~20261203T000000Z-00000000',
      `${MODEL}~${'9'.repeat(200)}`,
      '%00',
    ]) {
      const response = await fetch(`${url}/mscr/train/${bad}`, { headers: auth });
      assert.ok([404, 400].includes(response.status), `${bad}: ${response.status}`);
      assert.equal(typeof ((await response.json()) as { error: string }).error, 'string');
    }
    const unknown = await fetch(`${url}/mscr/train/${MODEL}~20261203T000000Z-00000000`, {
      headers: auth,
    });
    assert.equal(unknown.status, 404);
    assert.equal((await fetch(`${url}/mscr/train/${id}`)).status, 401);
    const wrong = await fetch(`${url}/mscr/train/${id}`, {
      headers: { authorization: 'Bearer not-the-token-at-all' },
    });
    assert.equal(wrong.status, 401);
  });

  test('a client that goes away ends its stream (a bounded number may be open at once)', async () => {
    // A run that is still running: its record, with no job behind it.
    const runs = createRunStore(openObjectStore(store));
    const runId = newRunId();
    const running: RetrainRun = {
      ...runningRecord(runId),
      progress: [{ seq: 1, at: new Date().toISOString(), type: 'state', message: 'starting' }],
    };
    await runs.save(running);
    const open = async () => {
      const controller = new AbortController();
      const response = await fetch(`${url}/mscr/train/${MODEL}~${runId}`, {
        headers: { ...auth, accept: 'text/event-stream' },
        signal: controller.signal,
      });
      return { controller, response };
    };
    const a = await open();
    const b = await open();
    assert.equal(a.response.status, 200);
    assert.equal(b.response.status, 200);
    const reader = a.response.body?.getReader();
    const first = new TextDecoder().decode((await reader?.read())?.value);
    assert.match(first, /retry: 1500/);
    const third = await open();
    assert.equal(third.response.status, 503, 'over the limit of open streams');
    // Both clients leave: their streams end, and new ones can open.
    a.controller.abort();
    b.controller.abort();
    await waitUntil(async () => {
      const c = await open();
      c.controller.abort();
      return c.response.status === 200;
    }, 'the streams of clients that left to close');
    // The run ends: a follower gets the report and the stream closes.
    const follower = fetch(`${url}/mscr/train/${MODEL}~${runId}`, {
      headers: { ...auth, accept: 'text/event-stream' },
    }).then((r) => r.text());
    await runs.save({ ...running, outcome: 'failed', message: 'ended by the test' });
    assert.match(await follower, /event: report\ndata: .*ended by the test/);
  });
});

test('a draining Service ends its progress streams, so its stop does not wait for them', async () => {
  const second = await startService(
    store,
    { adminToken: TOKEN },
    {
      retrain: createLocalLauncher({ store, data: [], extraArgs: [], logDir: join(dir, 'logs') }),
      train: { fileRoots: [dataDir], pollMs: 100, heartbeatMs: 100 },
    },
  );
  const runs = createRunStore(openObjectStore(store));
  const runId = newRunId();
  const running = runningRecord(runId);
  await runs.save(running);
  const response = await fetch(`${second.url}/mscr/train/${MODEL}~${runId}`, {
    headers: { ...auth, accept: 'text/event-stream' },
  });
  assert.equal(response.status, 200);
  const text = response.text();
  await second.service.stop();
  const body = await text;
  assert.match(body, /^retry: /);
  assert.doesNotMatch(body, /event: report/, 'no report: the client resumes on another replica');
  await runs.save({ ...running, outcome: 'failed', message: 'ended by the test' });
});

describe('POST /mscr/train refuses hostile and malformed requests', () => {
  const good = () => ({ model: MODEL, architecture: 'linear', data: csvUri });
  // Built when a test runs: the paths exist only after `before`.
  const cases = (): [string, unknown, number, RegExp][] => [
    ['not JSON', '{"model":', 400, /not valid JSON/],
    ['an array', [], 400, /JSON object/],
    ['an unknown key', { ...good(), command: 'rm -rf /' }, 400, /unknown field "command"/],
    ['no data', { model: MODEL }, 400, /data: required/],
    ['no model', { data: csvUri }, 400, /model/],
    ['a bad model name', { ...good(), model: '../etc' }, 400, /model: invalid model name/],
    ['an unknown architecture', { ...good(), architecture: 'gpt-9' }, 400, /architecture: unknown/],
    [
      'an http URI',
      { ...good(), data: 'http://169.254.169.254/latest' },
      400,
      /data: expected a URI of scheme file, s3 or gs/,
    ],
    [
      'a javascript URI',
      { ...good(), data: 'javascript:alert(1)' },
      400,
      /data: expected a URI of scheme file, s3 or gs/,
    ],
    ['path traversal', { ...good(), data: `file://${dataDir}/../../etc/passwd` }, 400, /'\.\.'/],
    [
      'encoded traversal',
      { ...good(), data: `file://${dataDir}/%2e%2e/x` },
      400,
      /percent-encoded/,
    ],
    [
      'a file outside the roots',
      { ...good(), data: 'file:///etc/passwd' },
      400,
      /outside the folders/,
    ],
    ['a relative file URI', { ...good(), data: 'file://etc/passwd' }, 400, /absolute path/],
    [
      'a second URI smuggled in with a comma',
      { ...good(), data: `${csvUri},file:///etc/passwd` },
      400,
      /comma is not allowed/,
    ],
    ['a NUL byte', { ...good(), data: `${csvUri}\u0000` }, 400, /control characters/],
    ['an s3 URI without a key', { ...good(), data: 's3://bucket' }, 400, /s3:\/\/<bucket>/],
    ['too many URIs', { ...good(), data: new Array(17).fill(csvUri) }, 400, /at most 16/],
    ['a long URI', { ...good(), data: `s3://b/${'k'.repeat(2000)}` }, 400, /longer than/],
    [
      'an unknown hyperparameter',
      { ...good(), hyperparameters: { dropout: 0.5 } },
      400,
      /unknown parameter "dropout"/,
    ],
    [
      'a negative learning rate',
      { ...good(), hyperparameters: { learningRate: -1 } },
      400,
      /hyperparameters.learningRate: -1 is out of range/,
    ],
    [
      'a fractional batch size',
      { ...good(), hyperparameters: { batchSize: 1.5 } },
      400,
      /expected an integer/,
    ],
    [
      'a string number',
      { ...good(), hyperparameters: { epochs: '1e400' } },
      400,
      /expected a number/,
    ],
    [
      'a bad search mode',
      { ...good(), search: { mode: 'bayes', space: { lr: [0.1] }, trials: 1 } },
      400,
      /search.mode: expected grid or random/,
    ],
    [
      'a zero budget',
      { ...good(), search: { space: { lr: [0.1] }, trials: 0 } },
      400,
      /search.trials: 0 is out of range/,
    ],
    [
      'an absurd budget',
      { ...good(), search: { space: { lr: [0.1] }, trials: 100000 } },
      400,
      /at most 50/,
    ],
    [
      'an unknown search parameter',
      { ...good(), search: { space: { momentum: [0.9] }, trials: 1 } },
      400,
      /unknown parameter "momentum"/,
    ],
    [
      'too many values',
      { ...good(), search: { space: { lr: new Array(21).fill(0.1) }, trials: 1 } },
      400,
      /at most 20 values/,
    ],
    ['an empty space', { ...good(), search: { space: {}, trials: 1 } }, 400, /search.space/],
    [
      'a search with an extra key',
      { ...good(), search: { space: { lr: [0.1] }, trials: 1, eval: 'x' } },
      400,
      /unknown field "eval"/,
    ],
  ];
  for (const [i, [what]] of cases().entries()) {
    test(what, async () => {
      const [, body, status, message] = cases()[i] as [string, unknown, number, RegExp];
      const response = await post('/mscr/train', body);
      const json = (await response.json()) as { error: string };
      assert.equal(response.status, status, json.error);
      assert.match(json.error, message);
    });
  }

  test('no token 401, a wrong one 401, text/plain 415, an oversized body 413, GET 405; the Service still serves', async () => {
    assert.equal((await post('/mscr/train', good(), {})).status, 401);
    assert.equal(
      (await post('/mscr/train', good(), { authorization: 'Bearer wrong-token-0123456789' }))
        .status,
      401,
    );
    const plain = await fetch(`${url}/mscr/train`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: JSON.stringify(good()),
    });
    assert.equal(plain.status, 415);
    const big = await post('/mscr/train', { ...good(), architecture: 'x'.repeat(20_000) });
    assert.equal(big.status, 413);
    assert.equal((await fetch(`${url}/mscr/train`, { headers: auth })).status, 405);
    assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);
  });
});

describe('POST /mscr/models/{m}/evaluate', () => {
  test('scores a version on data in a child process while the Service keeps answering', async () => {
    const evaluation = post(`/mscr/models/${MODEL}/evaluate`, { version: 1, data: csvUri });
    const serving = await forecastsUntil(evaluation);
    const response = await evaluation;
    const json = (await response.json()) as {
      model: string;
      version: number;
      metrics: Record<string, number>;
    };
    assert.equal(response.status, 200, JSON.stringify(json));
    assert.equal(json.model, MODEL);
    assert.equal(json.version, 1);
    assert.ok(json.metrics.rmse !== undefined && json.metrics.rmse > 0);
    assert.ok(serving.ok > 0);
    assert.equal(serving.failed, 0);

    const client = createClient({ baseUrl: url, timeoutMs: 120_000 });
    const limited = await client.evaluate(MODEL, { data: [csvUri], limit: 100 }, { token: TOKEN });
    assert.equal(typeof limited.metrics.rmse, 'number');
  });

  // Built when a test runs: the paths exist only after `before`.
  const cases = (): [string, unknown, number, RegExp][] => [
    ['both version and alias', { version: 1, alias: 'stable', data: csvUri }, 400, /not both/],
    ['a version 0', { version: 0, data: csvUri }, 400, /version: expected a positive integer/],
    ['a string version', { version: '1; rm', data: csvUri }, 400, /version/],
    ['a bad alias', { alias: '../x', data: csvUri }, 400, /alias/],
    ['no data', { version: 1 }, 400, /data: required/],
    ['data outside the roots', { data: 'file:///etc/passwd' }, 400, /outside the folders/],
    ['a gopher URI', { data: 'gopher://x/y' }, 400, /expected a URI of scheme/],
    ['an unknown key', { data: csvUri, shell: true }, 400, /unknown field "shell"/],
    ['a zero limit', { data: csvUri, limit: 0 }, 400, /limit/],
    ['an unknown version', { version: 99, data: csvUri }, 404, /99/],
    ['an unknown alias', { alias: 'nope', data: csvUri }, 404, /nope/],
  ];
  for (const [i, [what]] of cases().entries()) {
    test(what, async () => {
      const [, body, status, message] = cases()[i] as [string, unknown, number, RegExp];
      const response = await post(`/mscr/models/${MODEL}/evaluate`, body);
      const json = (await response.json()) as { error: string };
      assert.equal(response.status, status, json.error);
      assert.match(json.error, message);
    });
  }

  test('an unknown model is 404, no token 401, text/plain 415; the Service still serves', async () => {
    const unknown = await post('/mscr/models/no-such-model/evaluate', { data: csvUri });
    assert.equal(unknown.status, 404, await unknown.clone().text());
    assert.equal((await post(`/mscr/models/${MODEL}/evaluate`, { data: csvUri }, {})).status, 401);
    const plain = await fetch(`${url}/mscr/models/${MODEL}/evaluate`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: JSON.stringify({ data: csvUri }),
    });
    assert.equal(plain.status, 415);
    assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);
  });
});

describe('the CLI on a remote Service', () => {
  test('mscr train --remote --follow prints the progress and the report; train-status and evaluate --remote read the Service', async () => {
    const trained = await runMscr(
      [
        'train',
        '--remote',
        url,
        '--model',
        MODEL,
        '--arch',
        'linear',
        '--data',
        csvUri,
        '--epochs',
        '1',
        '--search',
        'lr=0.001,0.01',
        '--follow',
      ],
      { env: { MSCR_ADMIN_TOKEN: TOKEN } },
    );
    assert.equal(trained.code, 0, trained.stderr);
    assert.match(trained.stdout, /^started training run goog-linear~\S+/m);
    assert.match(trained.stdout, /^trial 1 epoch 1\/1: loss /m);
    assert.match(trained.stdout, /^trial 2 \{"learningRate":0.01\}: rmse=/m);
    assert.match(trained.stdout, /^run \S+ of goog-linear: (PUBLISHED|REJECTED)/m);
    const id = /started training run (\S+);/.exec(trained.stdout)?.[1] as string;

    const status = await runMscr(['train-status', id, '--remote', url, '--json', '--token', TOKEN]);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as RetrainRun).trials?.length, 2);

    const evaluated = await runMscr(
      ['evaluate', '--remote', url, '--model', MODEL, '--version', '1', '--data', csvUri, '--json'],
      { env: { MSCR_ADMIN_TOKEN: TOKEN } },
    );
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.equal((JSON.parse(evaluated.stdout) as { version: number }).version, 1);
  });

  test('usage errors: search flags without --remote, no token, a bad URL; a refused request exits with its code', async () => {
    const local = await runMscr([
      'train',
      '--model',
      MODEL,
      '--data',
      csvUri,
      '--search',
      'lr=0.1',
    ]);
    assert.equal(local.code, 2);
    assert.match(local.stderr, /--search needs --remote/);
    const noToken = await runMscr(
      ['train-status', `${MODEL}~20261203T000000Z-00000000`, '--remote', url],
      {
        env: { MSCR_ADMIN_TOKEN: '' },
      },
    );
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /no admin token/);
    const badUrl = await runMscr(['train-status', 'x', '--remote', 'ftp://x']);
    assert.equal(badUrl.code, 2);
    const unknown = await runMscr([
      'train-status',
      `${MODEL}~20261203T000000Z-00000000`,
      '--remote',
      url,
      '--token',
      TOKEN,
    ]);
    assert.equal(unknown.code, 4, unknown.stderr);
    const hostile = await runMscr([
      'train',
      '--remote',
      url,
      '--model',
      MODEL,
      '--data',
      'file:///etc/passwd',
      '--token',
      TOKEN,
    ]);
    assert.equal(hostile.code, 2, hostile.stderr);
    assert.match(hostile.stderr, /outside the folders/);
  });
});
