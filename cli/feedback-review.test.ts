/**
 * `mscr feedback --model <m> review` as operators run it (a real child process of
 * bin/mscr.js on a real local store): quarantined feedback is listed, accepted feedback
 * moves beside the rest where retraining reads it, rejected feedback is gone, and a bad
 * request exits non-zero with a message.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFeedbackStore } from '../connectors/sr/feedback-store.ts';
import type { FeedbackRecord, FeedbackStore } from '../connectors/sr/index.ts';
import { createLocalObjectStore } from '../connectors/store/index.ts';
import { runMscr } from '../tests/run-mscr.ts';

let dir: string;
let store: FeedbackStore;

function record(id: string, label: string): FeedbackRecord {
  return { id, model: 'pets', receivedAt: new Date().toISOString(), label, trust: 'anonymous' };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mscr-review-'));
  store = createFeedbackStore(createLocalObjectStore(dir));
  await store.append(
    record('fb-a', 'cat'),
    { kind: 'tensor', shape: [2], data: [1, 2] },
    {
      quarantine: true,
    },
  );
  await store.append(record('fb-b', 'dog'), undefined, { quarantine: true });
  await store.append(record('fb-c', 'dog'), undefined, { quarantine: true });
});
after(() => rm(dir, { recursive: true, force: true }));

describe('mscr feedback review', () => {
  test('lists, accepts and rejects quarantined feedback', async () => {
    const uri = `file://${dir}`;
    const listed = await runMscr(['feedback', '--model', 'pets', 'review', '--store', uri]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /FEEDBACK ID\s+RECEIVED\s+TRUST/);
    for (const id of ['fb-a', 'fb-b', 'fb-c']) assert.match(listed.stdout, new RegExp(id));
    assert.deepEqual(await store.list('pets'), []);

    const decided = await runMscr([
      'feedback',
      '--model',
      'pets',
      'review',
      '--store',
      uri,
      '--accept',
      'fb-a',
      '--reject',
      'fb-b',
      '--reviewer',
      'alice',
      '--json',
    ]);
    assert.equal(decided.code, 0, decided.stderr);
    const answer = JSON.parse(decided.stdout) as {
      accepted: string[];
      rejected: string[];
      waiting: FeedbackRecord[];
    };
    assert.deepEqual(answer.accepted, ['fb-a']);
    assert.deepEqual(answer.rejected, ['fb-b']);
    assert.deepEqual(
      answer.waiting.map((r) => r.id),
      ['fb-c'],
    );
    const accepted = await store.list('pets');
    assert.deepEqual(
      accepted.map((r) => r.id),
      ['fb-a'],
    );
    assert.equal(accepted[0]?.reviewed?.by, 'alice');
    assert.deepEqual(await store.readInput(accepted[0] as FeedbackRecord), {
      kind: 'tensor',
      shape: [2],
      data: [1, 2],
    });
    assert.deepEqual(
      (await store.list('pets', { quarantined: true })).map((r) => r.id),
      ['fb-c'],
    );

    const unknown = await runMscr([
      'feedback',
      '--model',
      'pets',
      'review',
      '--store',
      uri,
      '--accept',
      'nope',
    ]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no quarantined feedback "nope"/);
    const noModel = await runMscr(['feedback', 'review', '--store', uri]);
    assert.notEqual(noModel.code, 0);
    assert.match(noModel.stderr, /--model/);
  });
});
