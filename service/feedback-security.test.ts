/**
 * Feedback is training data, so it is guarded (issue 15, item 3), against a real service on
 * loopback with a real local store: JSON only (415 for every other type a cross-site page
 * could send), the feedback token when configured (401), a body limit (413), a rate limit
 * and an hourly quota per model (429 with Retry-After), and quarantine of what is below the
 * trust threshold: feedback whose input is the caller's word waits under
 * `<model>/feedback/quarantine/` and retraining (which lists feedback) never sees it until a
 * review accepts it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createFeedbackStore } from '../connectors/sr/feedback-store.ts';
import type { FeedbackStore } from '../connectors/sr/index.ts';
import { createLocalObjectStore } from '../connectors/store/index.ts';
import { tempStore, type TempStore } from './reload/test-support.ts';
import { publishToyClassifier, startService, toyInfer, waitUntil } from './test-support.ts';
import type { Service } from './server.ts';

const FEEDBACK_TOKEN = 'feedback-token-0123456789abcdef';

async function post(
  url: string,
  body: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text };
  }
  return { status: response.status, headers: response.headers, json };
}

async function predictionIds(url: string, model: string, rows: number): Promise<string[]> {
  const infer = await post(`${url}/v2/models/${model}/infer`, JSON.stringify(toyInfer(rows)));
  assert.equal(infer.status, 200);
  return String((infer.json.parameters as Record<string, string>).prediction_ids).split(',');
}

async function started(overrides: Record<string, string>) {
  const temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 0);
  await publishToyClassifier(temp.store, 'other', 0);
  const { service, url } = await startService(temp.dir, overrides);
  await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
  const feedback = createFeedbackStore(createLocalObjectStore(temp.dir));
  return { temp, service, url, feedback };
}

describe('feedback without a token: JSON only, limits, quarantine', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  let feedback: FeedbackStore;
  before(async () => {
    ({ temp, service, url, feedback } = await started({
      feedbackMaxBodyBytes: '2048',
      feedbackBurst: '1000',
    }));
  });
  after(async () => {
    await service.stop();
    await temp.cleanup();
  });

  test('every content type but application/json is a 415, and nothing is stored', async () => {
    const [id] = await predictionIds(url, 'toy', 1);
    const body = JSON.stringify({ predictionId: id, label: 'low' });
    const types = [
      undefined, // fetch sends text/plain;charset=UTF-8 for a string body
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonp',
      'application/json-patch+json',
      'text/json',
      'application/octet-stream',
      '',
      'application/json, text/plain',
    ];
    for (const type of types) {
      const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type };
      const answer = await post(`${url}/mscr/models/toy/feedback`, body, headers);
      assert.equal(
        answer.status,
        415,
        `content type ${String(type)}: ${JSON.stringify(answer.json)}`,
      );
      assert.match(String(answer.json.error), /application\/json/);
    }
    assert.deepEqual(await feedback.list('toy'), []);
    assert.deepEqual(await feedback.list('toy', { quarantined: true }), []);
    // The same post as JSON (with a charset parameter) is taken.
    const ok = await post(`${url}/mscr/models/toy/feedback`, body, {
      'content-type': 'Application/JSON; charset=utf-8',
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    assert.equal(ok.json.quarantined, undefined);
  });

  test('feedback about a remembered prediction is trusted; feedback with its own input is quarantined, invisible to retraining until accepted', async () => {
    const [id] = await predictionIds(url, 'toy', 1);
    const judged = await post(
      `${url}/mscr/models/toy/feedback`,
      JSON.stringify({ predictionId: id, label: 'high' }),
    );
    assert.equal(judged.status, 201);
    const posted = await post(
      `${url}/mscr/models/toy/feedback`,
      JSON.stringify({ input: { data: [9, 9, 9, 9], shape: [4] }, label: 'high' }),
    );
    assert.equal(posted.status, 201);
    assert.equal(posted.json.quarantined, true);
    // A forgotten id with an input is the caller's input too.
    const forgotten = await post(
      `${url}/mscr/models/toy/feedback`,
      JSON.stringify({
        predictionId: '00000000-0000-4000-8000-000000000000',
        input: { data: [8, 8, 8, 8], shape: [4] },
        label: 'high',
      }),
    );
    assert.equal(forgotten.json.quarantined, true);

    const accepted = await feedback.list('toy');
    assert.ok(accepted.some((r) => r.id === judged.json.id && r.trust === 'prediction'));
    assert.ok(!accepted.some((r) => r.id === posted.json.id || r.id === forgotten.json.id));
    const quarantined = await feedback.list('toy', { quarantined: true });
    assert.deepEqual(
      quarantined.map((r) => r.id).sort(),
      [posted.json.id, forgotten.json.id].sort(),
    );
    assert.ok(quarantined.every((r) => r.trust === 'anonymous'));
    const record = quarantined.find((r) => r.id === posted.json.id);
    assert.ok(record);
    assert.deepEqual(await feedback.readInput(record, { quarantined: true }), {
      kind: 'tensor',
      shape: [4],
      data: [9, 9, 9, 9],
    });
    // Quarantined feedback does not move the signals the threshold triggers read.
    const signals = (await (await fetch(`${url}/mscr/models/toy/signals`)).json()) as {
      feedback: { count: number };
    };
    assert.equal(signals.feedback.count, accepted.length);

    // A review accepts one and rejects the other.
    await feedback.accept(record, 'test');
    const other = quarantined.find((r) => r.id === forgotten.json.id);
    assert.ok(other);
    await feedback.reject(other);
    assert.deepEqual(await feedback.list('toy', { quarantined: true }), []);
    const now = await feedback.list('toy');
    const moved = now.find((r) => r.id === posted.json.id);
    assert.equal(moved?.reviewed?.by, 'test');
    assert.deepEqual(await feedback.readInput(moved ?? record), {
      kind: 'tensor',
      shape: [4],
      data: [9, 9, 9, 9],
    });
    assert.ok(!now.some((r) => r.id === forgotten.json.id));
  });

  test('a feedback body over the feedback limit is a 413 (the inference limit stays larger)', async () => {
    const big = JSON.stringify({ input: { data: new Array(1500).fill(1), shape: [4] }, label: 0 });
    assert.ok(big.length > 2048);
    const answer = await post(`${url}/mscr/models/toy/feedback`, big);
    assert.equal(answer.status, 413);
    assert.match(String(answer.json.error), /MSCR_FEEDBACK_MAX_BODY_BYTES/);
  });
});

describe('feedback rate limit and quota: 429 with Retry-After, per model', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  before(async () => {
    ({ temp, service, url } = await started({
      feedbackRate: '0.01',
      feedbackBurst: '3',
    }));
  });
  after(async () => {
    await service.stop();
    await temp.cleanup();
  });

  test('the fourth post in a burst of three is refused, another model still takes its own', async () => {
    const ids = await predictionIds(url, 'toy', 5);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (const id of ids) {
      const answer = await post(
        `${url}/mscr/models/toy/feedback`,
        JSON.stringify({ predictionId: id, label: 'low' }),
      );
      statuses.push(answer.status);
      if (answer.status === 429) {
        retryAfter = answer.headers.get('retry-after');
        assert.match(String(answer.json.error), /too much feedback for model toy/);
      }
    }
    assert.deepEqual(statuses, [201, 201, 201, 429, 429]);
    assert.ok(retryAfter !== null && Number(retryAfter) >= 1, `Retry-After ${String(retryAfter)}`);
    const [otherId] = await predictionIds(url, 'other', 1);
    const other = await post(
      `${url}/mscr/models/other/feedback`,
      JSON.stringify({ predictionId: otherId, label: 'low' }),
    );
    assert.equal(other.status, 201);
    // Inference is not rate limited by feedback.
    assert.equal((await predictionIds(url, 'toy', 1)).length, 1);
  });
});

describe('the hourly quota', () => {
  test('records per hour: the third record is a 429 whose Retry-After is within the hour', async () => {
    const { temp, service, url } = await started({ feedbackMaxRecordsPerHour: '2' });
    try {
      const ids = await predictionIds(url, 'toy', 3);
      const answers = [];
      for (const id of ids)
        answers.push(
          await post(
            `${url}/mscr/models/toy/feedback`,
            JSON.stringify({ predictionId: id, label: 'low' }),
          ),
        );
      assert.deepEqual(
        answers.map((a) => a.status),
        [201, 201, 429],
      );
      const retry = Number(answers[2]?.headers.get('retry-after'));
      assert.ok(retry >= 1 && retry <= 3600, `Retry-After ${retry}`);
      assert.match(String(answers[2]?.json.error), /quota of model toy/);
    } finally {
      await service.stop();
      await temp.cleanup();
    }
  });
});

describe('feedback with a token', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  let feedback: FeedbackStore;
  before(async () => {
    ({ temp, service, url, feedback } = await started({
      feedbackToken: FEEDBACK_TOKEN,
      feedbackTrust: 'token',
    }));
  });
  after(async () => {
    await service.stop();
    await temp.cleanup();
  });

  test('no token, a wrong one, another scheme: 401 with WWW-Authenticate; the right one: stored as trusted', async () => {
    const body = JSON.stringify({ input: { data: [1, 2, 3, 4], shape: [4] }, label: 'low' });
    const wrongs: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-0123456789abcdef' },
      { authorization: `Basic ${Buffer.from(`x:${FEEDBACK_TOKEN}`).toString('base64')}` },
      { authorization: `Bearer ${FEEDBACK_TOKEN}x` },
      { authorization: 'Bearer' },
      { authorization: `Bearer ${FEEDBACK_TOKEN.slice(0, -1)}` },
    ];
    for (const headers of wrongs) {
      const answer = await post(`${url}/mscr/models/toy/feedback`, body, {
        'content-type': 'application/json',
        ...headers,
      });
      assert.equal(answer.status, 401, JSON.stringify(headers));
      assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    assert.deepEqual(await feedback.list('toy'), []);
    const right = await post(`${url}/mscr/models/toy/feedback`, body, {
      'content-type': 'application/json',
      authorization: `Bearer ${FEEDBACK_TOKEN}`,
    });
    assert.equal(right.status, 201);
    assert.equal(right.json.quarantined, undefined);
    const records = await feedback.list('toy');
    assert.equal(records.length, 1);
    assert.equal(records[0]?.trust, 'token');
  });
});

describe('trust threshold review', () => {
  test('every piece of feedback waits for a review, even about a remembered prediction', async () => {
    const { temp, service, url, feedback } = await started({ feedbackTrust: 'review' });
    try {
      const [id] = await predictionIds(url, 'toy', 1);
      const answer = await post(
        `${url}/mscr/models/toy/feedback`,
        JSON.stringify({ predictionId: id, label: 'low' }),
      );
      assert.equal(answer.status, 201);
      assert.equal(answer.json.quarantined, true);
      assert.deepEqual(await feedback.list('toy'), []);
      assert.equal((await feedback.list('toy', { quarantined: true })).length, 1);
    } finally {
      await service.stop();
      await temp.cleanup();
    }
  });
});
