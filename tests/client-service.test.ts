/**
 * The Client layer against a real Service on loopback: the SDK in this process, and the
 * `mscr predict | status | feedback` commands as child processes, on models trained on the
 * real CIFAR-10 images and GOOG prices. Errors a user meets: the service down, an unknown
 * model or version, a file that is not an image, a wrong admin token, a run already going.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, isMscrClientError, type MscrClient } from '../client/index.ts';
import type { Service } from '../service/server.ts';
import { EXIT } from '../cli/exit-codes.ts';
import { CIFAR10_CLASS_NAMES } from '../model/data/cifar-binary.ts';
import { closedPort, rejection } from './loopback.ts';
import { runMscr } from './run-mscr.ts';
import { sharedData } from './shared-data.ts';
import {
  ADMIN_TOKEN,
  FORECAST_MODEL,
  IMAGE_MODEL,
  recordingLauncher,
  startClientService,
  trainClientModels,
} from './client-fixtures.ts';

const CIFAR_CLASSES = [...CIFAR10_CLASS_NAMES].sort();

let dir: string;
let service: Service;
let url: string;
let client: MscrClient;
const launcher = recordingLauncher();
const cat = () => sharedData('cifar10/images/cat_0003.jpg');
const ship = () => sharedData('cifar10/images/ship_0001.jpg');
const goog = () => sharedData('stock/goog_daily.csv');

/** `mscr <command> --url <the test service> args...` */
const atService = (command: string, args: string[]) => runMscr([command, '--url', url, ...args]);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mscr-client-'));
  const store = `file://${join(dir, 'models')}`;
  await trainClientModels(store);
  ({ service, url } = await startClientService(store, { retrain: launcher }));
  client = createClient({ baseUrl: url, timeoutMs: 20_000 });
});

after(async () => {
  await service?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('SDK against the real service', () => {
  test('health and server metadata', async () => {
    assert.equal(await client.live(), true);
    assert.equal(await client.ready(), true);
    const server = await client.serverMetadata();
    assert.equal(server.name, 'mscr');
    assert.ok(server.extensions.includes('binary_tensor_data'));
    assert.deepEqual((await client.listModels()).sort(), [IMAGE_MODEL, FORECAST_MODEL].sort());
  });

  test('model metadata, readiness and V1 status by version', async () => {
    const metadata = await client.modelMetadata(IMAGE_MODEL);
    assert.deepEqual(metadata.inputs[0]?.shape, [-1, 32, 32, 3]);
    assert.deepEqual(metadata.versions, ['1']);
    assert.equal(await client.modelReady(IMAGE_MODEL, { version: 1 }), true);
    const status = await client.modelStatus(IMAGE_MODEL, { version: 1 });
    assert.equal(status.model_version_status[0]?.state, 'AVAILABLE');
    assert.equal(status.ready, true);
    const missing = await rejection(client.modelStatus(IMAGE_MODEL, { version: 9 }));
    assert.ok(isMscrClientError(missing));
    assert.equal(missing.code, 'not_found');
    assert.equal(missing.httpStatus, 404);
  });

  test('classify a real CIFAR-10 test image (bytes and Blob): every class scored, one prediction id', async () => {
    const bytes = new Uint8Array(await readFile(cat()));
    const answer = await client.classify(IMAGE_MODEL, bytes, { top: 10 });
    assert.equal(answer.model, IMAGE_MODEL);
    assert.equal(answer.version, 1);
    const scores = answer.predictions[0] ?? [];
    assert.deepEqual(scores.map((s) => s.label).sort(), CIFAR_CLASSES);
    assert.ok(Math.abs(scores.reduce((sum, s) => sum + s.score, 0) - 1) < 1e-3);
    assert.equal(answer.predictionIds.length, 1);
    const again = await client.classify(IMAGE_MODEL, new Blob([bytes], { type: 'image/jpeg' }), {
      top: 2,
      version: 1,
    });
    assert.deepEqual(again.predictions, [scores.slice(0, 2)]);
    assert.notEqual(again.predictionIds[0], answer.predictionIds[0]);
  });

  test("a file that is not an image: 415 with the server's reason, not retried", async () => {
    const error = await rejection(
      client.classify(IMAGE_MODEL, new TextEncoder().encode('{"name": "not an image"}')),
    );
    assert.ok(isMscrClientError(error));
    // Refused by its magic bytes before any decoder runs (issue 15, item 5).
    assert.equal(error.httpStatus, 415);
    assert.equal(error.code, 'bad_request');
    assert.equal(error.attempts, 1);
    assert.match(error.serverMessage ?? '', /decode|image/i);
  });

  test('an unknown model: 404 naming it', async () => {
    const error = await rejection(client.classify('no-such-model', await readFile(cat())));
    assert.ok(isMscrClientError(error));
    assert.equal(error.code, 'not_found');
    assert.match(error.serverMessage ?? '', /no-such-model/);
  });

  test('forecast the newest GOOG window, and every window of the last 30 days', async () => {
    const text = await readFile(goog(), 'utf8');
    const answer = await client.forecast(FORECAST_MODEL, text, { order: 'newest-first' });
    assert.equal(answer.target, 'Close');
    assert.equal(answer.forecast.length, 1);
    assert.ok((answer.forecast[0] as number) > 300 && (answer.forecast[0] as number) < 1500);
    assert.equal(answer.predictionIds.length, 1);

    let progress = 0;
    const series = await client.forecastSeries(FORECAST_MODEL, text, {
      order: 'newest-first',
      maxWindows: 30,
      onProgress: (n) => (progress = n),
    });
    assert.equal(progress, 30);
    assert.equal(series.window, 7);
    assert.equal(series.points.length, 30);
    assert.equal(series.targetGuessed, false);
    assert.equal(series.points.at(-1)?.index, 732);
    assert.equal(series.points.at(-1)?.actual, undefined, 'the day after the file is unknown');
    assert.equal(series.points.at(-2)?.actual, 831.659973, 'the newest Close in the file');
    assert.equal(series.points.at(-1)?.predicted, answer.forecast[0]);
    assert.ok(series.rmse !== undefined && series.rmse > 0 && series.rmse < 200);
    assert.ok(series.points.every((p) => typeof p.predictionId === 'string'));

    const notForecaster = await rejection(client.forecastSeries(IMAGE_MODEL, text));
    assert.ok(isMscrClientError(notForecaster));
    assert.match(notForecaster.message, /not a forecaster/);
  });

  test('V1 predict, V2 infer in JSON and in binary tensors agree', async () => {
    const window = Array.from({ length: 7 }, () => [0.5, 0.5, 0.5, 0.5, 0.5]);
    const v1 = await client.predict(FORECAST_MODEL, { instances: [window] });
    assert.ok('predictions' in v1);
    const request = {
      id: 'r-1',
      inputs: [
        {
          name: 'window',
          shape: [1, 7, 5],
          datatype: 'FP32' as const,
          data: window.flat(),
        },
      ],
    };
    const json = await client.infer(FORECAST_MODEL, request);
    const binary = await client.infer(FORECAST_MODEL, request, { binary: true });
    assert.equal(json.id, 'r-1');
    const a = (json.outputs[0]?.data as number[]).flat(2) as number[];
    const b = binary.outputs[0]?.data as number[];
    assert.equal(b.length, a.length);
    for (let i = 0; i < a.length; i++)
      assert.ok(Math.abs((a[i] as number) - (b[i] as number)) < 1e-5);
    assert.ok(
      Math.abs(((v1.predictions as number[][])[0]?.[0] as number) - (a[0] as number)) < 1e-5,
    );
  });

  test('feedback on a prediction, then the signals count it', async () => {
    const answer = await client.classify(IMAGE_MODEL, await readFile(cat()));
    const feedback = await client.feedback(IMAGE_MODEL, {
      predictionId: answer.predictionIds[0] as string,
      label: 'cat',
    });
    assert.equal(feedback.model, IMAGE_MODEL);
    assert.equal(feedback.version, 1);
    assert.equal(feedback.label, 'cat');
    assert.equal(feedback.correct, answer.predictions[0]?.[0]?.label === 'cat');
    const signals = await client.signals(IMAGE_MODEL);
    assert.ok(signals.predictions >= 1);
    assert.ok(signals.feedback.count >= 1);
    assert.ok(signals.feedback.judged >= 1);

    const unknownId = await rejection(
      client.feedback(IMAGE_MODEL, { predictionId: 'no-such-prediction', label: 'cat' }),
    );
    assert.ok(isMscrClientError(unknownId));
    assert.equal(unknownId.httpStatus, 404);
    assert.equal(unknownId.attempts, 1, 'feedback is not retried');
    const twice = await rejection(
      client.feedback(IMAGE_MODEL, {
        predictionId: answer.predictionIds[0] as string,
        label: 'dog',
      }),
    );
    assert.ok(isMscrClientError(twice));
    assert.equal(twice.httpStatus, 409, 'one feedback per prediction');
    const fresh = await client.classify(IMAGE_MODEL, await readFile(cat()));
    const badLabel = await rejection(
      client.feedback(IMAGE_MODEL, {
        predictionId: fresh.predictionIds[0] as string,
        label: 'unicorn',
      }),
    );
    assert.ok(isMscrClientError(badLabel));
    assert.equal(badLabel.httpStatus, 400);
    assert.match(badLabel.serverMessage ?? '', /unicorn/);
  });

  test('retraining: the token is checked (401), a run starts (202), a second one conflicts (409), runs list it', async () => {
    const wrong = await rejection(client.retrain(IMAGE_MODEL, { token: 'not-the-admin-token' }));
    assert.ok(isMscrClientError(wrong));
    assert.equal(wrong.httpStatus, 401);
    assert.equal(wrong.code, 'config');

    const started = await client.retrain(IMAGE_MODEL, { token: ADMIN_TOKEN, reason: 'sdk test' });
    assert.equal(started.state, 'started');
    assert.equal(started.model, IMAGE_MODEL);
    assert.deepEqual(launcher.started.at(-1)?.trigger, { kind: 'request', reason: 'sdk test' });

    const conflict = await rejection(client.retrain(IMAGE_MODEL, { token: ADMIN_TOKEN }));
    assert.ok(isMscrClientError(conflict));
    assert.equal(conflict.httpStatus, 409);
    assert.equal(conflict.code, 'conflict');
    assert.equal(conflict.attempts, 1);

    launcher.finish(IMAGE_MODEL, 'published', 2);
    const runs = await client.runs(IMAGE_MODEL, { limit: 5 });
    assert.equal(runs[0]?.id, started.runId);
    assert.equal(runs[0]?.outcome, 'published');
  });
});

describe('mscr predict, status and feedback against the real service', () => {
  test('predict classifies images into a table with prediction ids', async () => {
    const r = await atService('predict', ['--model', IMAGE_MODEL, '--top', '3', cat(), ship()]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^FILE\s+MODEL\s+RANK\s+LABEL\s+SCORE\s+PREDICTION ID$/);
    assert.equal(lines.length, 1 + 2 * 3);
    assert.match(lines[1] ?? '', /^cat_0003\.jpg\s+cifar10 v1\s+1\s+\w+\s+[\d.]+ %\s+\S+$/);
    assert.match(lines[4] ?? '', /^ship_0001\.jpg/);
  });

  test('predict --json gives the SDK answers', async () => {
    const r = await atService('predict', ['--model', IMAGE_MODEL, '--json', cat()]);
    assert.equal(r.code, 0, r.stderr);
    const [result] = JSON.parse(r.stdout) as {
      file: string;
      kind: string;
      response: { predictions: { label: string }[][]; predictionIds: string[] };
    }[];
    assert.equal(result?.kind, 'classify');
    assert.ok(CIFAR_CLASSES.includes(result?.response.predictions[0]?.[0]?.label ?? ''));
    assert.equal(result?.response.predictionIds.length, 1);
  });

  test('predict forecasts a CSV (newest window), and every window with --all-windows', async () => {
    const r = await atService('predict', [
      '--model',
      FORECAST_MODEL,
      '--order',
      'newest-first',
      goog(),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^FILE\s+MODEL\s+TARGET\s+FORECAST\s+PREDICTION ID\n/);
    assert.match(r.stdout, /goog_daily\.csv\s+goog v1\s+Close\s+\d+\.\d\d\s+\S+/);

    const slice = join(dir, 'last-20-days.csv');
    const text = await readFile(goog(), 'utf8');
    await writeFile(slice, text.split(/\r?\n/).slice(0, 22).join('\n'));
    const all = await atService('predict', [
      '--model',
      FORECAST_MODEL,
      '--order',
      'newest-first',
      '--all-windows',
      slice,
    ]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /ROW\s+ACTUAL Close\s+PREDICTED\s+ERROR/);
    assert.match(all.stdout, /14 forecasts of Close by goog v1 \(window 7\); RMSE \d+\.\d\d/);
  });

  test('a file that is not an image: exit 3 naming the file; good files still answered', async () => {
    const notes = join(dir, 'notes.txt');
    await writeFile(notes, 'these are notes, not pixels\n');
    const r = await atService('predict', ['--model', IMAGE_MODEL, notes]);
    assert.equal(r.code, EXIT.badData);
    assert.match(r.stderr, /^mscr: .*notes\.txt: the service cannot use it: .*image/m);

    const mixed = await atService('predict', ['--model', IMAGE_MODEL, notes, cat()]);
    assert.equal(mixed.code, EXIT.badData);
    assert.match(mixed.stdout, /cat_0003\.jpg/);
    assert.match(mixed.stderr, /1 of 2 files could not be used/);
  });

  test('a missing file (4), an unknown model (4), an unknown version (4), bad flags (2)', async () => {
    const missing = await atService('predict', ['--model', IMAGE_MODEL, join(dir, 'nope.jpg')]);
    assert.equal(missing.code, EXIT.notFound);
    assert.match(missing.stderr, /nope\.jpg: no such file/);

    const model = await atService('predict', ['--model', 'dogs', cat()]);
    assert.equal(model.code, EXIT.notFound);
    assert.match(model.stderr, /404.*dogs/);

    const version = await atService('predict', ['--model', IMAGE_MODEL, '--version', '9', cat()]);
    assert.equal(version.code, EXIT.notFound);

    const flags = await atService('predict', [cat()]);
    assert.equal(flags.code, EXIT.usage);
    assert.match(flags.stderr, /--model/);
  });

  test('the service down: exit 5 with a message saying so', async () => {
    const port = await closedPort();
    const r = await runMscr([
      'predict',
      '--url',
      `http://127.0.0.1:${port}`,
      '--model',
      IMAGE_MODEL,
      '--retries',
      '1',
      cat(),
    ]);
    assert.equal(r.code, EXIT.unavailable);
    assert.match(
      r.stderr,
      /cannot reach the service at http:\/\/127\.0\.0\.1:\d+ \(connection refused\).*after 2 attempts/,
    );
    const status = await runMscr(['status', '--url', `http://127.0.0.1:${port}`, '--retries', '0']);
    assert.equal(status.code, EXIT.unavailable);
    assert.match(status.stderr, /cannot reach the service/);
  });

  test('a service that does not answer: --timeout ends the wait with exit 5', async () => {
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const r = await runMscr(['status', '--url', `http://127.0.0.1:${port}`, '--timeout', '0.5']);
      assert.equal(r.code, EXIT.unavailable);
      assert.match(r.stderr, /no answer from GET .* within 500 ms/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  test('status shows the server, the models, their versions and which one serves', async () => {
    const r = await runMscr(['status', '--url', url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^mscr \S+ at http:\/\/127\.0\.0\.1:\d+: live, ready/);
    assert.match(
      r.stdout,
      /cifar10\s+image classifier\s+image \[-1, 32, 32, 3\]\s+1\s+AVAILABLE\s+yes/,
    );
    assert.match(r.stdout, /goog\s+forecaster\s+window \[-1, 7, 5\]\s+1\s+AVAILABLE\s+yes/);
    const json = await atService('status', ['--json']);
    const status = JSON.parse(json.stdout) as { ready: boolean; models: { name: string }[] };
    assert.equal(status.ready, true);
    assert.deepEqual(status.models.map((m) => m.name).sort(), [IMAGE_MODEL, FORECAST_MODEL].sort());
  });

  test('feedback records the true label of a prediction; bad usage exits 2, unknown model 4', async () => {
    const answer = await client.classify(IMAGE_MODEL, await readFile(ship()));
    const id = answer.predictionIds[0] as string;
    const r = await atService('feedback', [
      '--model',
      IMAGE_MODEL,
      '--prediction-id',
      id,
      '--label',
      'ship',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /FEEDBACK ID\s+MODEL\s+VERSION\s+TRUTH\s+PREDICTION WAS/);
    assert.match(r.stdout, /cifar10\s+1\s+ship\s+(right|wrong)/);

    const forecast = await client.forecast(FORECAST_MODEL, await readFile(goog(), 'utf8'), {
      order: 'newest-first',
    });
    const actual = await atService('feedback', [
      '--model',
      FORECAST_MODEL,
      '--prediction-id',
      forecast.predictionIds[0] as string,
      '--actual',
      '835.5',
      '--json',
    ]);
    assert.equal(actual.code, 0, actual.stderr);
    assert.equal((JSON.parse(actual.stdout) as { actual: number }).actual, 835.5);

    const neither = await atService('feedback', ['--model', IMAGE_MODEL, '--prediction-id', id]);
    assert.equal(neither.code, EXIT.usage);
    assert.match(neither.stderr, /exactly one of --label/);
    const unknown = await atService('feedback', [
      '--model',
      'dogs',
      '--prediction-id',
      id,
      '--label',
      'cat',
    ]);
    assert.equal(unknown.code, EXIT.notFound);
  });

  for (const command of ['predict', 'status', 'feedback']) {
    test(`mscr ${command} --help`, async () => {
      const r = await runMscr([command, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Usage: mscr/);
      assert.match(r.stdout, /--url <url>/);
    });
  }
});
