/**
 * `mscr rollout ...` on a real local store, through the CLI's own `main` (in process: a
 * child process per command costs seconds of start-up each on this machine; the stdout and
 * stderr writes are captured, the exit code is main's).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { publishSample, tempStore, type TempStore } from '../service/reload/test-support.ts';
import { main } from './main.ts';

let temp: TempStore;
before(async () => {
  temp = await tempStore();
  await publishSample(temp.store, 'toy', 'a', { alias: 'stable' });
  await publishSample(temp.store, 'toy', 'b');
});
after(() => temp?.cleanup());

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(['rollout', ...args, '--store', temp.dir]);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

test('start, status, promote and abort a rollout on a store; bad input exits non-zero saying what to fix', async () => {
  const none = await run('status', '--model', 'toy');
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /toy: no rollout/);

  for (const [args, message] of [
    [['start', '--model', 'toy'], /exactly one of --shadow and --canary/],
    [['start', '--model', 'toy', '--shadow', '--canary', '5%'], /exactly one of/],
    [['start', '--model', 'toy', '--canary', '150%'], /percentage above 0 and below 100/],
    [['start', '--model', 'toy', '--canary', '5', '--steps', '50,25,100'], /steps must be/],
    [['start', '--model', 'toy', '--canary', '5', '--step-every', 'soon'], /duration/],
    [['start', '--model', 'toy', '--canary', '5', '--thresholds', '[1]'], /JSON object/],
    [
      ['start', '--model', 'toy', '--canary', '5', '--candidate', '7'],
      /version 7 of model toy is not ready/,
    ],
    [['start', '--model', '../etc', '--canary', '5'], /model/],
    [['promote', '--model', 'toy'], /has no rollout/],
  ] as const) {
    const r = await run(...args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
  }

  const started = await run(
    'start',
    '--model',
    'toy',
    '--canary',
    '10%',
    '--steps',
    '5,25,50,100',
    '--step-every',
    '2m',
    '--min-requests',
    '30',
    '--json',
  );
  assert.equal(started.code, 0, started.stderr);
  const state = JSON.parse(started.stdout) as Record<string, unknown>;
  assert.deepEqual(
    {
      stable: state.stable,
      candidate: state.candidate,
      mode: state.mode,
      weight: state.weight,
      steps: state.steps,
      stepEveryMs: state.stepEveryMs,
    },
    {
      stable: 1,
      candidate: 2,
      mode: 'canary',
      weight: 10,
      steps: [10, 25, 50, 100],
      stepEveryMs: 120_000,
    },
  );
  assert.equal((state.thresholds as { minRequests: number }).minRequests, 30);
  const twice = await run('start', '--model', 'toy', '--shadow');
  assert.equal(twice.code, 7);
  assert.match(twice.stderr, /is running: promote or abort it first/);

  const status = await run('status', '--model', 'toy');
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /toy: running canary at 10 %, candidate version 2 against stable 1/);
  assert.match(status.stdout, /start\s+cli\s+10%/);

  const promoted = await run('promote', '--model', 'toy');
  assert.equal(promoted.code, 0, promoted.stderr);
  assert.match(promoted.stdout, /promoted: toy: promoted off/);
  assert.equal(await temp.store.getAlias('toy', 'stable'), 2);

  // A shadow of version 1 against the new stable, aborted: the alias stays.
  const shadow = await run('start', '--model', 'toy', '--shadow', '--candidate', '1');
  assert.equal(shadow.code, 0, shadow.stderr);
  assert.match(shadow.stdout, /running shadow, candidate version 1 against stable 2/);
  const aborted = await run('abort', '--model', 'toy', '--json');
  assert.equal(aborted.code, 0, aborted.stderr);
  assert.equal((JSON.parse(aborted.stdout) as { phase: string }).phase, 'rolled_back');
  assert.equal(await temp.store.getAlias('toy', 'stable'), 2);
  const history = JSON.parse((await run('status', '--model', 'toy', '--json')).stdout) as {
    decisions: { decision: string; by: string }[];
  };
  assert.deepEqual(
    history.decisions.map((d) => `${d.decision}:${d.by}`),
    ['rollback:cli', 'start:cli', 'promote:cli', 'start:cli'],
  );
});
