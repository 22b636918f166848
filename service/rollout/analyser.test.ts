import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_THRESHOLDS } from '../../connectors/store/rollout.ts';
import { analyse, percentile, psi, type AnalysisInput, type SideWindow } from './analyser.ts';

/** A window of `requests` answers, `errors` of them failed, every latency `ms`, classes split as given. */
function side(requests: number, options: Partial<SideWindow> & { ms?: number } = {}): SideWindow {
  return {
    requests,
    errors: options.errors ?? 0,
    latenciesMs:
      options.latenciesMs ??
      new Array<number>(requests - (options.errors ?? 0)).fill(options.ms ?? 5),
    classCounts: options.classCounts ?? [requests, 0],
    feedback: options.feedback ?? { total: 0, correct: 0 },
  };
}

function input(overrides: Partial<AnalysisInput> = {}): AnalysisInput {
  return {
    mode: 'canary',
    steps: [5, 25, 50, 100],
    step: 0,
    stepElapsedMs: 60_000,
    stepEveryMs: 10_000,
    thresholds: { ...DEFAULT_THRESHOLDS, minRequests: 100 },
    stable: side(900),
    candidate: side(100),
    ...overrides,
  };
}

test('too few requests on either side: hold, whatever the figures say', () => {
  const few = analyse(input({ candidate: side(99, { errors: 99 }) }));
  assert.equal(few.decision, 'hold');
  assert.match(few.reason, /too few requests.*candidate 99, need 100/);
  assert.deepEqual(few.failed, []);
  assert.equal(analyse(input({ stable: side(10) })).decision, 'hold');
  // Exactly the minimum is enough.
  assert.equal(analyse(input({ candidate: side(100) })).decision, 'advance');
});

test('a passing candidate advances to the next step, and is promoted instead of going to 100 %', () => {
  const first = analyse(input());
  assert.equal(first.decision, 'advance');
  assert.equal(first.nextWeight, 25);
  assert.equal(analyse(input({ step: 1 })).nextWeight, 50);
  const last = analyse(input({ step: 2 }));
  assert.equal(last.decision, 'promote');
  assert.equal(last.nextWeight, undefined);
});

test('a passing candidate holds until the step time is over', () => {
  const early = analyse(input({ stepElapsedMs: 4_000 }));
  assert.equal(early.decision, 'hold');
  assert.match(early.reason, /6 s left/);
});

test('ties pass: equal error rates, equal latencies, identical distributions', () => {
  const tie = analyse(
    input({
      stable: side(200, { errors: 10, ms: 20, classCounts: [100, 100] }),
      candidate: side(200, { errors: 10, ms: 20, classCounts: [100, 100] }),
    }),
  );
  assert.equal(tie.decision, 'advance');
  assert.equal(tie.figures.psi, 0);
  assert.equal(tie.figures.stable.errorRate, tie.figures.candidate.errorRate);
  // Exactly at the allowed increase still passes; just past it fails.
  const at = analyse(
    input({
      thresholds: { ...DEFAULT_THRESHOLDS, minRequests: 100, maxErrorRateIncrease: 0.25 },
      stable: side(100, { errors: 25 }),
      candidate: side(100, { errors: 50 }),
    }),
  );
  assert.equal(at.decision, 'advance');
  const past = analyse(
    input({
      thresholds: { ...DEFAULT_THRESHOLDS, minRequests: 100, maxErrorRateIncrease: 0.25 },
      stable: side(100, { errors: 25 }),
      candidate: side(100, { errors: 51 }),
    }),
  );
  assert.equal(past.decision, 'rollback');
});

test('a failing candidate is rolled back, naming every broken check and its figures', () => {
  const broken = analyse(
    input({
      stable: side(500, { ms: 10, classCounts: [450, 50], feedback: { total: 40, correct: 36 } }),
      candidate: side(500, {
        errors: 50,
        ms: 100,
        classCounts: [50, 400],
        feedback: { total: 40, correct: 20 },
      }),
      stepElapsedMs: 0, // a broken candidate does not wait for the step to end
    }),
  );
  assert.equal(broken.decision, 'rollback');
  assert.equal(broken.failed.length, 4);
  assert.match(broken.failed.join('\n'), /error rate 0\.1 vs stable 0/);
  assert.match(broken.failed.join('\n'), /p99 latency 100 ms vs stable 10 ms \(limit 70 ms\)/);
  assert.match(broken.failed.join('\n'), /feedback accuracy 0\.5 vs stable 0\.9/);
  assert.match(broken.failed.join('\n'), /prediction PSI/);
  assert.equal(broken.figures.candidate.errorRate, 0.1);
  assert.equal(broken.figures.stable.accuracy, 0.9);
  assert.ok((broken.figures.psi ?? 0) > 1);
});

test('feedback accuracy counts only with enough feedback on both sides', () => {
  const thin = analyse(
    input({
      stable: side(200, { feedback: { total: 19, correct: 19 } }),
      candidate: side(200, { feedback: { total: 19, correct: 0 } }),
    }),
  );
  assert.equal(thin.decision, 'advance');
  assert.equal(thin.figures.candidate.accuracy, 0);
});

test('shadow: agreement below the minimum rolls back; agreement at it advances to the first canary step', () => {
  const shadow = (agreed: number, steps: number[] = [10, 100]) =>
    analyse(
      input({
        mode: 'shadow',
        steps,
        stable: side(200, { classCounts: [100, 100] }),
        candidate: side(200, { classCounts: [100, 100] }),
        shadow: { compared: 200, agreed },
      }),
    );
  const disagreeing = shadow(100);
  assert.equal(disagreeing.decision, 'rollback');
  assert.equal(disagreeing.figures.agreement, 0.5);
  const agreeing = shadow(180);
  assert.equal(agreeing.decision, 'advance');
  assert.equal(agreeing.nextWeight, 10);
  assert.equal(shadow(200, []).decision, 'hold');
  assert.equal(shadow(200, [100]).decision, 'promote');
});

test('percentile and PSI', () => {
  assert.equal(percentile([], 99), null);
  assert.equal(percentile([3, 1, 2], 50), 2);
  assert.equal(
    percentile(
      Array.from({ length: 100 }, (_, i) => i + 1),
      99,
    ),
    99,
  );
  assert.equal(psi([], [1]), null);
  assert.equal(psi([0, 0], [1, 1]), null);
  assert.equal(psi([10, 10], [20, 20]), 0);
  // Symmetric, positive, and large for opposite distributions.
  const a = psi([90, 10], [10, 90]) ?? 0;
  assert.ok(a > 1);
  assert.equal(a, psi([10, 90], [90, 10]));
});
