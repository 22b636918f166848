/**
 * The run watcher on real run records (the SR connector's run store on a real local store,
 * written as the retraining job writes them): history at the first read is not evented,
 * every later change is, once, in order; a store that cannot be read is reported and the
 * watcher goes on.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MscrError } from '../../connectors/errors.ts';
import type { RetrainRun } from '../../connectors/sr/index.ts';
import { createRunStore, newRunId, type RunStore } from '../../connectors/sr/run-store.ts';
import { createLocalObjectStore } from '../../connectors/store/local-store.ts';
import type { RetrainingEvent } from './events.ts';
import { createRunWatcher } from './run-watcher.ts';

let dir: string;
let runs: RunStore;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mscr-run-watcher-'));
  runs = createRunStore(createLocalObjectStore(dir));
});
after(() => rm(dir, { recursive: true, force: true }));

let minute = 0;
function run(model: string, outcome: RetrainRun['outcome'], extra: Partial<RetrainRun> = {}) {
  // Ids sortable by time, a minute apart, so "newest first" is well defined.
  const startedAt = new Date(Date.UTC(2026, 11, 3, 10, minute++));
  return {
    id: newRunId(startedAt),
    model,
    trigger: { kind: 'request' as const, reason: 'drift' },
    startedAt: startedAt.toISOString(),
    outcome,
    ...extra,
  } satisfies RetrainRun;
}

test('history is the baseline; new runs and ends are evented once, in order, with the gate reason', async () => {
  const old = run('m', 'published', { published: { version: 1 }, message: 'old' });
  const stillGoing = run('m', 'running');
  await runs.save(old);
  await runs.save(stillGoing);
  const events: RetrainingEvent[] = [];
  const watcher = createRunWatcher({
    models: () => ['m'],
    runs: (model) => runs.list(model, { limit: 20 }),
    intervalMs: 3_600_000, // reads only when asked: check()
    onEvent: (event) => events.push(event),
  });
  await watcher.check();
  assert.equal(events.length, 0, 'runs recorded before the first read are history');

  // The run that was going ends; a new one starts; one is recorded already failed (a job
  // that died before it could record anything, settled by its launcher).
  await runs.save({
    ...stillGoing,
    outcome: 'rejected',
    message: 'candidate worse: rmse 3 vs 2 for version 1',
    baseline: { version: 1, metrics: { rmse: 2 } },
    candidate: { metrics: { rmse: 3 } },
    finishedAt: new Date().toISOString(),
  });
  const fresh = run('m', 'running');
  await runs.save(fresh);
  const died = run('m', 'failed', { message: 'the retraining process was killed by SIGKILL' });
  await runs.save(died);
  await watcher.check();
  assert.deepEqual(
    events.map((e) => [e.type, e.runId]),
    [
      ['retraining.rejected', stillGoing.id],
      ['retraining.started', fresh.id],
      ['retraining.started', died.id],
      ['retraining.failed', died.id],
    ],
  );
  const rejected = events[0] as RetrainingEvent;
  assert.equal(rejected.model, 'm');
  assert.equal(rejected.reason, 'candidate worse: rmse 3 vs 2 for version 1');
  assert.deepEqual(rejected.baseline, { version: 1, metrics: { rmse: 2 } });
  assert.deepEqual(rejected.candidate, { metrics: { rmse: 3 } });
  assert.deepEqual(rejected.trigger, { kind: 'request', reason: 'drift' });
  assert.equal(events[1]?.reason, undefined, 'a start has no reason yet');
  assert.equal(events[3]?.reason, 'the retraining process was killed by SIGKILL');

  // Nothing changed: nothing evented. Then the fresh run publishes.
  events.length = 0;
  await watcher.check();
  assert.equal(events.length, 0);
  await runs.save({
    ...fresh,
    outcome: 'published',
    published: { version: 2 },
    message: 'candidate at least as good',
  });
  await watcher.check();
  assert.deepEqual(
    events.map((e) => [e.type, e.runId, e.version]),
    [['retraining.published', fresh.id, 2]],
  );
});

test('the loop reads on its own; a model whose runs cannot be read is reported, the others go on', async () => {
  const events: RetrainingEvent[] = [];
  const errors: string[] = [];
  const watcher = createRunWatcher({
    models: () => ['broken', 'n'],
    runs: async (model) => {
      if (model === 'broken') throw new MscrError('unavailable', 'store unreachable');
      return runs.list(model, { limit: 20 });
    },
    intervalMs: 20,
    onEvent: (event) => events.push(event),
    onError: (model, error) => errors.push(`${model}: ${(error as Error).message}`),
  });
  watcher.start();
  try {
    await waitFor(() => errors.length > 0);
    const started = run('n', 'running');
    await runs.save(started);
    await waitFor(() => events.length > 0);
    assert.deepEqual(
      events.map((e) => [e.type, e.model]),
      [['retraining.started', 'n']],
    );
    assert.match(errors[0] ?? '', /^broken: store unreachable/);
  } finally {
    watcher.stop();
  }
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
