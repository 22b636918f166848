/**
 * The MSC/R loop end to end, with every part real: a CNN trained on real CIFAR-10 images
 * serves; clients classify the 200 real test images and send their true labels as feedback;
 * the threshold observer (`mscr retrain watch --once`) sees the accuracy on that feedback
 * is poor and fires; the retraining job trains on the base data plus the feedback images,
 * the gate compares the candidate with the serving version on the same held-out data, and
 * version 2 is published; the Service hot-reloads it; accuracy on the feedback set rises.
 * Then a job that can only make a worse model is rejected and version 2 keeps serving.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ClassifyResponse } from '../connectors/sc/index.ts';
import type { FeedbackResponse, RetrainRun } from '../connectors/sr/index.ts';
import { openStore } from '../connectors/store/index.ts';
import { createLocalLauncher } from '../cli/retrain-launcher.ts';
import type { Service } from '../service/server.ts';
import { startService, waitUntil } from '../service/test-support.ts';
import { runMscr } from './run-mscr.ts';
import { sharedData } from './shared-data.ts';

interface Labelled {
  file: string;
  label: string;
}

async function testImages(): Promise<Labelled[]> {
  const text = await readFile(sharedData('cifar10/labels.csv'), 'utf8');
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [file, , label] = line.split(',');
      return { file: sharedData(`cifar10/${file}`), label: label as string };
    });
}

/** Classifies every image, sends its true label as feedback, returns the accuracy seen. */
async function classifyAndFeedBack(
  url: string,
  images: Labelled[],
  feedback: boolean,
): Promise<{ accuracy: number; versions: Set<number> }> {
  let correct = 0;
  const versions = new Set<number>();
  for (const image of images) {
    const response = await fetch(`${url}/mscr/models/cifar10-cnn/classify`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: await readFile(image.file),
    });
    assert.equal(response.status, 200);
    const result = (await response.json()) as ClassifyResponse;
    versions.add(result.version);
    if (result.predictions[0]?.[0]?.label === image.label) correct++;
    if (!feedback) continue;
    const sent = await fetch(`${url}/mscr/models/cifar10-cnn/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ predictionId: result.predictionIds[0], label: image.label }),
    });
    assert.equal(sent.status, 201, await sent.clone().text());
    const answer = (await sent.json()) as FeedbackResponse;
    assert.equal(answer.correct, result.predictions[0]?.[0]?.label === image.label);
  }
  return { accuracy: correct / images.length, versions };
}

describe('the retraining loop', { timeout: 900_000 }, () => {
  let dir: string;
  let store: string;
  let service: Service;
  let url: string;
  let images: Labelled[];
  let before1: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mscr-loop-'));
    store = `file://${join(dir, 'models')}`;
    images = await testImages();
    // Version 1: one epoch on 100 images, so production shows it up.
    const trained = await runMscr([
      'train',
      '--model',
      'cifar10-cnn',
      '--data',
      sharedData('cifar10/train'),
      '--limit',
      '100',
      '--epochs',
      '1',
      '--store',
      store,
      '--quiet',
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    ({ service, url } = await startService(store, { models: 'cifar10-cnn' }));
    await waitUntil(
      async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
      'readiness',
      60_000,
    );
  });
  after(async () => {
    await service?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('poor feedback fires the observer; the job retrains with it, passes the gate, publishes; the service reloads; accuracy rises', async (t) => {
    const first = await classifyAndFeedBack(url, images, true);
    before1 = first.accuracy;
    assert.deepEqual([...first.versions], [1]);
    const signals = (await (await fetch(`${url}/mscr/models/cifar10-cnn/signals`)).json()) as {
      feedback: { judged: number; correct: number };
      predictions: number;
    };
    assert.equal(signals.feedback.judged, 200);
    assert.equal(signals.predictions, 200);

    const watched = await runMscr([
      'retrain',
      'watch',
      '--once',
      '--url',
      url,
      '--model',
      'cifar10-cnn',
      '--store',
      store,
      '--data',
      sharedData('cifar10/train'),
      '--limit',
      '600',
      '--epochs',
      '4',
      '--min-accuracy',
      '0.6',
      '--min-feedback',
      '50',
    ]);
    assert.equal(watched.code, 0, watched.stderr);
    assert.match(watched.stderr, /retrain: accuracy on 200 labelled feedback 0\.\d+ < 0\.6/);
    assert.match(watched.stderr, /run \S+: published/);

    const history = await runMscr([
      'retrain',
      'history',
      '--model',
      'cifar10-cnn',
      '--store',
      store,
      '--json',
    ]);
    const [run] = JSON.parse(history.stdout) as RetrainRun[];
    assert.ok(run);
    assert.equal(run.outcome, 'published');
    assert.equal(run.trigger.kind, 'threshold');
    assert.equal(run.inputs?.feedbackRecords, 200);
    assert.equal(run.baseline?.version, 1);
    assert.ok((run.candidate?.metrics.accuracy ?? 0) >= (run.baseline?.metrics.accuracy ?? 1));
    assert.equal(run.published?.version, 2);

    await waitUntil(
      () =>
        service.manager
          .status('cifar10-cnn')
          .versions.some((v) => v.version === 2 && v.state === 'AVAILABLE'),
      'version 2 serving',
      60_000,
    );
    const second = await classifyAndFeedBack(url, images, false);
    t.diagnostic(
      `feedback-set accuracy: version 1 ${before1.toFixed(3)}, version 2 ${second.accuracy.toFixed(3)}; gate on ${JSON.stringify(run.baseline?.metrics)} vs ${JSON.stringify(run.candidate?.metrics)}`,
    );
    assert.deepEqual([...second.versions], [2]);
    assert.ok(
      second.accuracy > before1 + 0.05,
      `accuracy on the feedback set: version 1 ${before1}, version 2 ${second.accuracy}`,
    );
  });

  test('a job that can only make a worse model is rejected by the gate: nothing published, the record says why', async () => {
    const rejected = await runMscr([
      'retrain',
      '--model',
      'cifar10-cnn',
      '--store',
      store,
      '--data',
      sharedData('cifar10/train'),
      '--no-feedback',
      // 150 held-out images: enough that an untrained candidate (about 10 %) cannot tie
      // version 2 (about 25 %) by luck.
      '--limit',
      '300',
      '--test-fraction',
      '0.5',
      '--epochs',
      '1',
      '--learning-rate',
      '0.00001',
      '--json',
    ]);
    assert.equal(rejected.code, 0, `a rejection is a decision, not an error: ${rejected.stderr}`);
    const run = JSON.parse(rejected.stdout) as RetrainRun;
    assert.equal(run.outcome, 'rejected');
    assert.match(run.message ?? '', /candidate worse: accuracy [\d.]+ vs [\d.]+ for version 2/);
    assert.equal(run.published, undefined);
    assert.deepEqual(await openStore(store).listVersions('cifar10-cnn'), [1, 2]);
    const status = service.manager.status('cifar10-cnn').versions;
    assert.ok(status.some((v) => v.version === 2 && v.state === 'AVAILABLE'));
  });
});

describe('retraining on request, through the Service', { timeout: 300_000 }, () => {
  let dir: string;
  let store: string;
  let service: Service;
  let url: string;
  const token = 'test-admin-token-0123456789';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mscr-request-'));
    store = `file://${join(dir, 'models')}`;
    const data = sharedData('stock/goog_daily.csv');
    const trained = await runMscr([
      'train',
      '--model',
      'prices',
      '--arch',
      'linear',
      '--data',
      data,
      '--epochs',
      '2',
      '--store',
      store,
      '--quiet',
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    // The real launcher `mscr serve --retrain-data` builds: each run a child `mscr retrain`.
    const launcher = createLocalLauncher({
      store,
      data: [data],
      extraArgs: ['--epochs', '2', '--backend', 'wasm'],
      logDir: join(dir, 'logs'),
    });
    ({ service, url } = await startService(
      store,
      { models: 'prices', adminToken: token },
      { retrain: launcher },
    ));
    await waitUntil(
      async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
      'readiness',
      60_000,
    );
  });
  after(async () => {
    await service?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('POST retrain starts a child job, a second POST meanwhile is a 409, the run is recorded and on /metrics', async () => {
    const post = () =>
      fetch(`${url}/mscr/models/prices/retrain`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'test' }),
      });
    const started = await post();
    assert.equal(started.status, 202, await started.clone().text());
    const { runId } = (await started.json()) as { runId: string };
    const again = await post();
    assert.equal(again.status, 409);
    assert.match(((await again.json()) as { error: string }).error, /already (running|starting)/);

    let run: RetrainRun | undefined;
    await waitUntil(
      async () => {
        const runs = (await (await fetch(`${url}/mscr/models/prices/runs`)).json()) as RetrainRun[];
        run = runs.find((r) => r.id === runId);
        return run !== undefined && run.outcome !== 'running';
      },
      'the run to finish',
      240_000,
    );
    assert.ok(run);
    assert.equal(run.trigger.kind, 'request');
    assert.equal(run.trigger.reason, 'test');
    assert.ok(['published', 'rejected'].includes(run.outcome), `${run.outcome}: ${run.message}`);
    assert.equal(run.baseline?.version, 1);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(`mscr_retrain_runs\\{model="prices",outcome="${run.outcome}"\\} 1`),
    );
    assert.match(
      metrics,
      /mscr_retrain_last_duration_seconds\{model="prices",outcome="\w+"\} [\d.]+/,
    );

    // The same endpoint from the CLI: a wrong token is refused (exit 2), the right one starts a run.
    const refused = await runMscr([
      'retrain',
      'trigger',
      '--url',
      url,
      '--model',
      'prices',
      '--token',
      'wrong-token-0123456789',
    ]);
    assert.equal(refused.code, 2, refused.stderr);
    const triggered = await runMscr([
      'retrain',
      'trigger',
      '--url',
      url,
      '--model',
      'prices',
      '--token',
      token,
    ]);
    assert.equal(triggered.code, 0, triggered.stderr);
    const second = /started retraining run (\S+) of prices/.exec(triggered.stdout)?.[1];
    assert.ok(second, triggered.stdout);
    // Let that run end before the store goes away.
    await waitUntil(
      async () => {
        const runs = (await (await fetch(`${url}/mscr/models/prices/runs`)).json()) as RetrainRun[];
        return runs.some((r) => r.id === second && r.outcome !== 'running');
      },
      'the second run to finish',
      240_000,
    );
  });
});
