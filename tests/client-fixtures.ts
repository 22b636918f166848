/**
 * What the Client layer's end-to-end tests share: models trained quickly on the real shared
 * data through the `mscr train` command (the Client may not import the Model layer), a
 * running Service on loopback with an admin token, and a retraining launcher.
 */
import { fileURLToPath } from 'node:url';
import { MscrError } from '../connectors/errors.ts';
import type { RetrainLauncher, RetrainRun } from '../connectors/sr/index.ts';
import { startService } from '../service/test-support.ts';
import type { Service } from '../service/server.ts';
import { createClient } from '../client/index.ts';
import { runMscr } from './run-mscr.ts';
import { sharedData } from './shared-data.ts';

export const IMAGE_MODEL = 'cifar10';
export const FORECAST_MODEL = 'goog';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const WEB_ROOT = fileURLToPath(new URL('../client/web/public/', import.meta.url));

/**
 * Trains `cifar10` (the CIFAR-10 convnet, 1 epoch on 300 real training images, ~6 s) and
 * `goog` (the stock LSTM, 3 epochs on the real GOOG prices, ~4 s) into `store`.
 */
export async function trainClientModels(store: string): Promise<void> {
  const runs = [
    [
      'train',
      '--model',
      IMAGE_MODEL,
      '--arch',
      'cifar10-cnn',
      '--data',
      sharedData('cifar10/train'),
      '--epochs',
      '1',
      '--limit',
      '300',
    ],
    [
      'train',
      '--model',
      FORECAST_MODEL,
      '--arch',
      'stock-lstm',
      '--data',
      sharedData('stock/goog_daily.csv'),
      '--epochs',
      '3',
    ],
  ];
  for (const args of runs) {
    const run = await runMscr([...args, '--store', store, '--seed', '1', '--quiet']);
    if (run.code !== 0) throw new Error(`mscr ${args.join(' ')} failed:\n${run.stderr}`);
  }
}

/**
 * A retraining launcher that records runs in memory. The Service only sees the SR
 * connector's `RetrainLauncher`; the launchers that really train (a child process of
 * `mscr retrain`, a Kubernetes Job) are tested in `retraining/` and `k8s/`. Here the point is
 * the HTTP contract the SDK and the page use: token, 202, 409, the runs list.
 */
export function recordingLauncher(): RetrainLauncher & {
  started: RetrainRun[];
  finish(model: string, outcome: RetrainRun['outcome'], published?: number): void;
} {
  const started: RetrainRun[] = [];
  return {
    started,
    async start(model, trigger) {
      if (started.some((r) => r.model === model && r.outcome === 'running')) {
        throw new MscrError('conflict', `a retraining run for ${model} is already running`);
      }
      const id = `run-${started.length + 1}`;
      started.push({
        id,
        model,
        trigger,
        startedAt: new Date().toISOString(),
        outcome: 'running',
      });
      return { runId: id };
    },
    async runs(model, options) {
      return started
        .filter((r) => r.model === model)
        .reverse()
        .slice(0, options?.limit ?? 50);
    },
    finish(model, outcome, published) {
      const run = started.find((r) => r.model === model && r.outcome === 'running');
      if (run === undefined) return;
      run.outcome = outcome;
      run.finishedAt = new Date().toISOString();
      run.message = outcome === 'published' ? 'the candidate beat the serving version' : outcome;
      run.baseline = { version: 1, metrics: { accuracy: 0.21 } };
      run.candidate = { metrics: { accuracy: 0.25 } };
      if (published !== undefined) run.published = { version: published };
    },
  };
}

/** A Service on a free loopback port serving `store`, ready (every model loaded). */
export async function startClientService(
  store: string,
  options: { webRoot?: string; retrain?: RetrainLauncher } = {},
): Promise<{ service: Service; url: string }> {
  const started = await startService(store, { adminToken: ADMIN_TOKEN }, options);
  const client = createClient({ baseUrl: started.url, retries: 0 });
  const deadline = Date.now() + 60_000;
  while (!(await client.ready().catch(() => false))) {
    if (Date.now() > deadline) {
      await started.service.stop();
      throw new Error('the service did not become ready within 60 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return started;
}
