// Run records and the retraining lease on the real local store.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isMscrError } from '../errors.ts';
import { createLocalObjectStore } from '../store/local-store.ts';
import { createModelStore } from '../store/model-store.ts';
import { sampleDraft, sampleFiles } from '../store/contract-fixtures.ts';
import { createRunStore, newRunId } from './run-store.ts';
import type { RetrainRun } from './index.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mscr-runs-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const run = (id: string, outcome: RetrainRun['outcome']): RetrainRun => ({
  id,
  model: 'm',
  trigger: { kind: 'manual' },
  startedAt: new Date().toISOString(),
  outcome,
});

test('records are listed newest first and do not disturb the versions', async () => {
  const objects = createLocalObjectStore(join(dir, 'a'));
  const runs = createRunStore(objects);
  const models = createModelStore(objects);
  await models.publish(sampleDraft('m'), sampleFiles('x'));
  const ids = [new Date('2026-12-01T10:00:00Z'), new Date('2026-12-02T10:00:00Z')].map((d) =>
    newRunId(d),
  );
  await runs.save(run(ids[0] as string, 'published'));
  await runs.save(run(ids[1] as string, 'rejected'));
  assert.deepEqual(
    (await runs.list('m')).map((r) => r.outcome),
    ['rejected', 'published'],
  );
  assert.equal((await runs.list('m', { limit: 1 })).length, 1);
  assert.deepEqual(await models.listVersions('m'), [1]);
  assert.deepEqual(await models.listModels(), ['m']);
  await assert.rejects(runs.save(run('../../etc', 'failed')), { code: 'bad_request' });
});

test('the lease: one holder among 20 racers, a clear conflict, released, and an expired one broken', async () => {
  const runs = createRunStore(createLocalObjectStore(join(dir, 'b')));
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => runs.acquire('m', `run-${i}`, 60_000)),
  );
  const won = results.filter((r) => r.status === 'fulfilled');
  assert.equal(won.length, 1);
  const lost = results.find((r) => r.status === 'rejected');
  assert.ok(lost?.status === 'rejected' && isMscrError(lost.reason, 'conflict'));
  assert.match(String((lost.reason as Error).message), /already running \(run run-\d+ on /);
  const lease = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof runs.acquire>>>).value;
  await runs.release(lease);
  assert.equal(await runs.current('m'), undefined);

  // A crashed run's lease, already expired, is broken by the next run.
  await runs.acquire('m', 'crashed', -1000);
  const next = await runs.acquire('m', 'next', 60_000);
  assert.equal(next.runId, 'next');
  // Releasing someone else's lease does nothing.
  await runs.release({ ...next, runId: 'crashed' });
  assert.equal((await runs.current('m'))?.runId, 'next');
});
