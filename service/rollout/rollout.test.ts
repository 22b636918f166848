/**
 * Progressive delivery end to end: a real Service over a real local store with three real
 * versions of a toy classifier (service/test-support.ts): v1 stable, v2 a good candidate
 * (same answers, other weights), v3 a broken one (it predicts the other class for every
 * input, as a model trained on shuffled labels may). Traffic is real HTTP on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as tf from '@tensorflow/tfjs';
import { createLocalObjectStore } from '../../connectors/store/index.ts';
import { createRolloutStore, type RolloutState } from '../../connectors/store/rollout.ts';
import { corruptFile, tempStore, type TempStore } from '../reload/test-support.ts';
import { callUnary, grpcClients, toyModelInfer } from '../grpc/test-support.ts';
import type { Service } from '../server.ts';
import {
  publishToy,
  toyClassifierDraft,
  publishToyClassifier,
  startService,
  toyInfer,
  waitUntil,
} from '../test-support.ts';

const TOKEN = 'rollout-admin-token-0123456789';
let temp: TempStore;
let service: Service;
let url: string;
let grpcPort: number | undefined;

before(async () => {
  temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 1); // v1: stable
  await publishToyClassifier(temp.store, 'toy', 1, 3); // v2: good candidate
  await publishToyClassifier(temp.store, 'toy', 0); // v3: broken candidate
  await publishFailing(); // v4: loads and warms up, fails every request of more than one row
  await publishToyClassifier(temp.store, 'toy', 1, 4); // v5: corrupted below, cannot load
  await corruptFile(temp.dir, 'toy', 5, 'model.json');
  await temp.store.setAlias('toy', 'stable', 1);
  ({ service, url, grpcPort } = await startService(temp.dir, {
    policy: 'alias:stable',
    adminToken: TOKEN,
    rolloutInterval: '0.3',
  }));
  await waitUntil(() => service.dataPlane.ready(), 'the stable version to load');
});
after(async () => {
  await service?.stop();
  await temp?.cleanup();
});

/**
 * The toy classifier (same input, same answers as v1) built for a batch of exactly one row:
 * it loads and passes the one-row warm-up, then fails every request of two rows, as a
 * candidate with a real defect does. Published with the manifest v1 has.
 */
async function publishFailing(): Promise<void> {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({
      batchInputShape: [1, 4],
      units: 2,
      activation: 'softmax',
      name: 'probabilities',
    }),
  );
  model.setWeights([tf.zeros([4, 2]), tf.tensor1d([-2, 2])]);
  await publishToy(temp.store, model, toyClassifierDraft('toy'));
}

async function admin(
  path: string,
  options: { method?: string; body?: unknown; token?: string | null; type?: string } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (options.token !== null) headers.authorization = `Bearer ${options.token ?? TOKEN}`;
  if (options.body !== undefined) headers['content-type'] = options.type ?? 'application/json';
  const response = await fetch(`${url}/mscr/models/${path}`, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(options.body !== undefined
      ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }
      : {}),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function infer(
  caller?: string,
  rows = 1,
): Promise<{ status: number; version: string; body: string }> {
  const response = await fetch(`${url}/v2/models/toy/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(caller ? { 'x-mscr-caller': caller } : {}) },
    body: JSON.stringify(toyInfer(rows)),
  });
  const body = await response.text();
  const version = response.ok
    ? String((JSON.parse(body) as { model_version: string }).model_version)
    : '';
  return { status: response.status, version, body };
}

/** Clients posting without pause until `stop()`; every answer's version and every failure kept. */
function load(clients = 4, rows = 1) {
  const versions: string[] = [];
  const failures: string[] = [];
  let running = true;
  const client = async () => {
    while (running) {
      const r = await infer(undefined, rows);
      if (r.status === 200) versions.push(r.version);
      else failures.push(`${r.status} ${r.body.slice(0, 200)}`);
    }
  };
  const all = Array.from({ length: clients }, client);
  return {
    versions,
    failures,
    async stop() {
      running = false;
      await Promise.all(all);
    },
  };
}

const available = (version: number) =>
  service.manager
    .status('toy')
    .versions.some((v) => v.version === version && v.state === 'AVAILABLE');
const rolloutOf = async (): Promise<RolloutState | undefined> =>
  createRolloutStore(createLocalObjectStore(temp.dir)).read('toy');

test('the admin API: the token first, then 4xx with {"error"} for bad input, hostile names and conflicts', async () => {
  const start = { mode: 'canary', weight: 10, candidate: 2 };
  const missing = await admin('toy/rollout/start', { body: start, token: null });
  assert.equal(missing.status, 401);
  assert.match(String(missing.json.error), /admin token/);
  assert.equal((await admin('toy/rollout', { token: 'wrong-token-wrong-token' })).status, 401);
  // Hostile names are refused before the store sees them, with the token or without.
  assert.equal((await admin('..%2F..%2Fetc/rollout', { token: null })).status, 401);
  for (const name of ['..%2F..%2Fetc', '%E0%A4%A', 'a%00b', 'UPPER']) {
    const r = await admin(`${name}/rollout`);
    assert.equal(r.status, 400, name);
    assert.equal(typeof r.json.error, 'string');
  }
  assert.equal((await admin('nosuchmodel/rollout')).status, 404);
  const cases: [unknown, RegExp][] = [
    [{ mode: 'fast' }, /mode must be/],
    [{ mode: 'canary', weight: 100 }, /weight must be a percentage above 0 and below 100/],
    [{ mode: 'canary', weight: '10' }, /weight must be a number/],
    [{ mode: 'canary', steps: [50, 25, 100] }, /steps must be/],
    [{ mode: 'canary', candidate: 1, stable: 1 }, /stable version already/],
    [{ mode: 'canary', candidate: 9 }, /version 9 of model toy is not ready/],
    [{ mode: 'canary', candidate: -1 }, /positive integer/],
    [{ mode: 'canary', thresholds: { maxPsi: -1 } }, /maxPsi/],
    [{ mode: 'canary', evil: true }, /unknown field "evil"/],
    [{ mode: 'canary', stepEverySeconds: 1e12 }, /stepEverySeconds/],
    [[1, 2], /JSON object/],
  ];
  for (const [body, message] of cases) {
    const r = await admin('toy/rollout/start', { body });
    assert.ok(r.status === 400 || r.status === 404, `${JSON.stringify(body)}: ${r.status}`);
    assert.match(String(r.json.error), message);
  }
  assert.equal((await admin('toy/rollout/start', { body: '{"mode":' })).status, 400);
  assert.equal((await admin('toy/rollout/start', { body: start, type: 'text/plain' })).status, 415);
  assert.equal((await admin('toy/rollout/start', { method: 'GET' })).status, 405);
  assert.equal((await admin('toy/rollout/launch', { body: {} })).status, 404);
  assert.equal((await admin('toy/rollout/promote', { method: 'POST' })).status, 404);
  const status = await admin('toy/rollout');
  assert.equal(status.status, 200);
  assert.equal(status.json.rollout, null);
  assert.equal(await rolloutOf(), undefined);
  // The service kept serving through all of it.
  assert.equal((await infer()).status, 200);
});

test('shadow: the candidate answers copies, agreement is recorded, callers only ever see stable', async () => {
  const started = await admin('toy/rollout/start', {
    body: { mode: 'shadow', candidate: 2, thresholds: { minRequests: 20 } },
  });
  assert.equal(started.status, 201, JSON.stringify(started.json));
  assert.equal(started.json.stable, 1);
  assert.equal((await admin('toy/rollout/start', { body: { mode: 'shadow' } })).status, 409);
  await waitUntil(() => available(2), 'the candidate to load beside stable');
  const versions = new Set<string>();
  for (let i = 0; i < 60; i++) versions.add((await infer()).version);
  assert.deepEqual([...versions], ['1']);
  await waitUntil(
    () => (service.rollout.router.window('toy')?.shadow.compared ?? 0) >= 40,
    'shadow copies answered',
  );
  const status = await admin('toy/rollout');
  const live = status.json.live as {
    figures: { agreement: number; compared: number; psi: number };
  };
  assert.equal(live.figures.agreement, 1);
  assert.equal(live.figures.psi, 0);
  assert.ok(live.figures.compared >= 40);
  // Shadow without steps holds for a person; its hold is recorded with the figures.
  await waitUntil(async () => {
    const decisions = (await admin('toy/rollout')).json.decisions as {
      decision: string;
      reason: string;
    }[];
    return decisions.some(
      (d) => d.decision === 'hold' && /shadow passes every check/.test(d.reason),
    );
  }, 'a recorded hold of a passing shadow');
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(
    metrics,
    /mscr_rollout_shadow_total\{model="toy",version="2",outcome="agreed"\} \d+/,
  );
  assert.match(
    metrics,
    /mscr_rollout_requests_total\{model="toy",version="1",role="stable",outcome="ok"\}/,
  );
  const aborted = await admin('toy/rollout/abort', { method: 'POST' });
  assert.equal(aborted.status, 200);
  assert.equal(aborted.json.phase, 'rolled_back');
  assert.equal((await admin('toy/rollout/abort', { method: 'POST' })).status, 409);
});

test('canary: a caller key sticks to one version, and the split follows the weight', async () => {
  const r = await admin('toy/rollout/start', {
    body: { mode: 'canary', weight: 50, candidate: 3, thresholds: { minRequests: 1_000_000 } },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  await waitUntil(
    () => available(3) && service.rollout.router.state('toy')?.mode === 'canary',
    'the canary',
  );
  const seen = new Map<string, Set<string>>();
  for (let caller = 0; caller < 30; caller++) {
    const key = `caller-${caller}`;
    seen.set(key, new Set());
    for (let i = 0; i < 4; i++) seen.get(key)?.add((await infer(key)).version);
  }
  assert.ok(
    [...seen.values()].every((v) => v.size === 1),
    'each caller saw one version',
  );
  const chosen = [...seen.values()].map((v) => [...v][0]);
  assert.ok(chosen.includes('1') && chosen.includes('3'), `both versions answer: ${chosen.join()}`);
  // gRPC callers stick too (x-mscr-caller metadata), to the same version as over HTTP.
  assert.ok(grpcPort !== undefined, 'the service serves gRPC');
  const clients = grpcClients(`127.0.0.1:${grpcPort}`);
  try {
    for (const key of ['caller-1', 'caller-2', 'caller-3', 'caller-4']) {
      const metadata = new grpc.Metadata();
      metadata.set('x-mscr-caller', key);
      const versions = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const answer = await callUnary<{ model_version: string }>(
          clients.inference,
          'ModelInfer',
          toyModelInfer('toy'),
          metadata,
        );
        versions.add(answer.model_version);
      }
      assert.deepEqual([...versions], [...(seen.get(key) ?? [])], key);
    }
  } finally {
    clients.close();
  }
  assert.equal((await admin('toy/rollout/abort', { method: 'POST' })).status, 200);
  await waitUntil(() => !available(3), 'the aborted candidate to unload');
});

test('a broken candidate is rolled back at its first judged analysis; stable never stops answering', async () => {
  const r = await admin('toy/rollout/start', {
    body: {
      mode: 'canary',
      weight: 50,
      candidate: 3,
      stepEverySeconds: 600,
      thresholds: { minRequests: 20 },
    },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  await waitUntil(() => available(3), 'the broken candidate to load');
  const traffic = load();
  try {
    await waitUntil(
      async () => (await rolloutOf())?.phase === 'rolled_back',
      'the rollback',
      60_000,
    );
    const rolledBackAt = traffic.versions.length;
    await waitUntil(
      () => traffic.versions.length > rolledBackAt + 60,
      'traffic after the rollback',
    );
    await traffic.stop();
    assert.deepEqual(traffic.failures, []);
    assert.ok(traffic.versions.includes('3'), 'the candidate answered before the rollback');
    // A few requests routed just before this replica applied the decision may still end on v3.
    assert.deepEqual(new Set(traffic.versions.slice(rolledBackAt + 20)), new Set(['1']));
  } finally {
    await traffic.stop();
  }
  const { json } = await admin('toy/rollout');
  const decisions = json.decisions as {
    decision: string;
    by: string;
    reason: string;
    candidate: number;
    figures: { psi: number; candidate: { requests: number } };
  }[];
  const mine = decisions.filter((d) => d.candidate === 3);
  const rollback = mine.find((d) => d.decision === 'rollback');
  assert.ok(rollback, JSON.stringify(mine));
  assert.equal(rollback.by, 'controller');
  assert.match(rollback.reason, /prediction PSI/);
  assert.ok(rollback.figures.psi > 0.25);
  assert.ok(rollback.figures.candidate.requests >= 20);
  // Every analysis before it (since this rollout started) lacked the minimum of requests.
  const index = mine.indexOf(rollback);
  const before = mine.slice(index + 1, mine.findIndex((d) => d.decision === 'start') + 1);
  assert.ok(
    before.every(
      (d) => d.decision === 'start' || (d.decision === 'hold' && /too few/.test(d.reason)),
    ),
    JSON.stringify(before),
  );
});

test("a candidate that fails requests: its callers get stable's answers, and it is rolled back on its error rate", async () => {
  const r = await admin('toy/rollout/start', {
    body: {
      mode: 'canary',
      weight: 50,
      candidate: 4,
      stepEverySeconds: 600,
      thresholds: { minRequests: 20 },
    },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  await waitUntil(() => available(4), 'the failing candidate to load (its warm-up passes)');
  const traffic = load(4, 2);
  try {
    await waitUntil(
      async () => (await rolloutOf())?.phase === 'rolled_back',
      'the rollback',
      60_000,
    );
    await traffic.stop();
    assert.deepEqual(traffic.failures, []);
    assert.deepEqual(new Set(traffic.versions), new Set(['1']));
  } finally {
    await traffic.stop();
  }
  const decisions = (await admin('toy/rollout')).json.decisions as {
    decision: string;
    candidate: number;
    reason: string;
    figures: { candidate: { errorRate: number; errors: number } };
  }[];
  const rollback = decisions.find((d) => d.candidate === 4 && d.decision === 'rollback');
  assert.ok(rollback, JSON.stringify(decisions.slice(0, 3)));
  assert.match(rollback.reason, /error rate 1 vs stable 0/);
  assert.ok(rollback.figures.candidate.errors >= 20);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(
    metrics,
    /mscr_rollout_requests_total\{model="toy",version="4",role="candidate",outcome="error"\} \d+/,
  );
});

test('a candidate that cannot load is rolled back by the controller; stable keeps answering', async () => {
  const r = await admin('toy/rollout/start', {
    body: { mode: 'canary', weight: 50, candidate: 5, thresholds: { minRequests: 20 } },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const traffic = load(2);
  try {
    await waitUntil(async () => (await rolloutOf())?.phase === 'rolled_back', 'the rollback');
    await traffic.stop();
    assert.deepEqual(traffic.failures, []);
    assert.deepEqual(new Set(traffic.versions), new Set(['1']));
  } finally {
    await traffic.stop();
  }
  assert.match(String((await rolloutOf())?.reason), /candidate version 5 failed to load: .*sha256/);
});

test('a good canary advances through its steps and is promoted with zero failed requests under load', async () => {
  const r = await admin('toy/rollout/start', {
    body: {
      mode: 'canary',
      weight: 10,
      steps: [10, 30, 60, 100],
      candidate: 2,
      stepEverySeconds: 0,
      thresholds: { minRequests: 15 },
    },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const traffic = load();
  try {
    await waitUntil(async () => (await rolloutOf())?.phase === 'promoted', 'the promotion', 90_000);
    assert.equal(await temp.store.getAlias('toy', 'stable'), 2);
    await waitUntil(() => !available(1), 'the old stable to unload');
    const after = traffic.versions.length;
    await waitUntil(() => traffic.versions.length > after + 40, 'traffic after the promotion');
    await traffic.stop();
    assert.deepEqual(traffic.failures, []);
    assert.deepEqual(new Set(traffic.versions.slice(after)), new Set(['2']));
    assert.ok(traffic.versions.includes('1'));
  } finally {
    await traffic.stop();
  }
  const decisions = (await admin('toy/rollout')).json.decisions as {
    decision: string;
    candidate: number;
    weight: number;
  }[];
  const steps = decisions
    .filter((d) => d.candidate === 2 && (d.decision === 'advance' || d.decision === 'promote'))
    .reverse()
    .map((d) => `${d.decision}@${d.weight}`);
  assert.deepEqual(steps, ['advance@10', 'advance@30', 'promote@60']);
});
