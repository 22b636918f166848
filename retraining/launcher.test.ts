/**
 * The process launcher settles a job that dies (issue 15, item 8): real child processes on a
 * real local store. A job killed while it holds the model's lease (SIGKILL, SIGTERM, a crash
 * with a non-zero code) leaves the run recorded as failed and the lease released, so the
 * next run can start at once instead of two hours later; a job that finished normally is
 * left as it recorded itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRunStore, type RunStore } from '../connectors/sr/run-store.ts';
import { createLocalObjectStore } from '../connectors/store/index.ts';
import { createProcessLauncher } from './launcher.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUN_STORE = fileURLToPath(new URL('../connectors/sr/run-store.ts', import.meta.url));
const STORE = fileURLToPath(new URL('../connectors/store/index.ts', import.meta.url));

/** A stand-in job: takes the lease and records a running run like `mscr retrain`, then `mode`. */
const JOB = `
import { createRunStore } from ${JSON.stringify(RUN_STORE)};
import { createLocalObjectStore } from ${JSON.stringify(STORE)};
const [dir, model, runId, mode] = process.argv.slice(2);
const runs = createRunStore(createLocalObjectStore(dir));
const lease = await runs.acquire(model, runId, 2 * 3600_000);
await runs.save({ id: runId, model, trigger: { kind: 'request' }, startedAt: new Date().toISOString(), outcome: 'running' });
if (mode === 'finish') {
  await runs.save({ id: runId, model, trigger: { kind: 'request' }, startedAt: new Date().toISOString(), outcome: 'rejected', message: 'gate said no' });
  await runs.release(lease);
  process.exit(0);
}
if (mode === 'crash') process.exit(3);
process.stdout.write('holding\\n');
setInterval(() => undefined, 1000);
`;

let dir: string;
let runs: RunStore;
let script: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mscr-launcher-'));
  runs = createRunStore(createLocalObjectStore(join(dir, 'store')));
  script = join(dir, 'job.mts');
  await writeFile(script, JOB);
});
after(() => rm(dir, { recursive: true, force: true }));

function launcher(mode: string, onExit: (code: number | null) => void) {
  const l = createProcessLauncher({
    runs,
    logDir: join(dir, 'logs'),
    command: (model, runId) => ({
      file: process.execPath,
      args: ['--import', 'tsx', script, join(dir, 'store'), model, runId, mode],
    }),
    env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
    onExit: (_m, _r, code) => onExit(code),
  });
  return { l };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a retraining process that dies', () => {
  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    test(`killed by ${signal} while holding the lease: the run is failed, the lease released, the next run starts`, async () => {
      const model = `m-${signal.toLowerCase()}`;
      let exited = false;
      const { l } = launcher('hold', () => (exited = true));
      const { runId } = await l.start(model, { kind: 'request' });
      await until(async () => (await runs.current(model))?.runId === runId, 'the lease taken');
      await until(
        async () => (await runs.list(model)).some((r) => r.id === runId),
        'the run recorded',
      );
      // The job's own process: its lease names it as holder host:pid.
      const holder = (await runs.current(model))?.holder ?? '';
      process.kill(Number(holder.split(':').at(-1)), signal);
      await until(async () => exited, 'the launcher saw the exit');
      assert.equal(await runs.current(model), undefined, 'lease released');
      const run = (await runs.list(model)).find((r) => r.id === runId);
      assert.equal(run?.outcome, 'failed');
      assert.match(run?.message ?? '', new RegExp(`killed by ${signal}|exited with code`));
      assert.ok(run?.finishedAt);
      // The next run is not refused.
      const next = launcher('finish', () => undefined).l;
      const second = await next.start(model, { kind: 'request' });
      await until(
        async () =>
          (await runs.list(model)).some((r) => r.id === second.runId && r.outcome === 'rejected'),
        'the next run done',
      );
    });
  }

  test('a crash with a non-zero code is recorded too; a job that recorded its own outcome is left as it is', async () => {
    let code: number | null | undefined;
    const crash = launcher('crash', (c) => (code = c)).l;
    const crashed = await crash.start('m-crash', { kind: 'request' });
    await until(async () => code !== undefined, 'exit');
    assert.equal(code, 3);
    assert.equal(await runs.current('m-crash'), undefined);
    const run = (await runs.list('m-crash')).find((r) => r.id === crashed.runId);
    assert.equal(run?.outcome, 'failed');
    assert.match(run?.message ?? '', /exited with code 3/);

    let done = false;
    const finish = launcher('finish', () => (done = true)).l;
    const finished = await finish.start('m-finish', { kind: 'request' });
    await until(async () => done, 'exit');
    const record = (await runs.list('m-finish')).find((r) => r.id === finished.runId);
    assert.equal(record?.outcome, 'rejected');
    assert.equal(record?.message, 'gate said no');
  });
});

test('two starts at the same moment: one job, one conflict, and no failed run left behind', async () => {
  let exits = 0;
  const { l } = launcher('finish', () => exits++);
  const outcomes = await Promise.allSettled([
    l.start('twins', { kind: 'request' }),
    l.start('twins', { kind: 'request' }),
  ]);
  const started = outcomes.filter((o) => o.status === 'fulfilled');
  const refused = outcomes.filter((o) => o.status === 'rejected');
  assert.equal(started.length, 1, 'exactly one job started');
  assert.match(String((refused[0] as PromiseRejectedResult).reason), /already starting/);
  await until(async () => exits === 1, 'the job to end');
  const recorded = await runs.list('twins', {});
  assert.deepEqual(
    recorded.map((r) => r.outcome),
    ['rejected'],
    'only the one run, as it recorded itself',
  );
});
