/**
 * The in-flight window's PUBACK order (the adapter on a real mosquitto is in mqtt.test.ts):
 * answers finish in any order, PUBACKs go out in arrival order; a request left unanswered
 * holds back everything after it on that connection; a new connection starts afresh.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IPublishPacket } from 'mqtt';
import { AckWindow } from './mqtt-window.ts';

const packet = (messageId: number): IPublishPacket => ({
  cmd: 'publish',
  topic: 'mscr/m/infer',
  payload: Buffer.alloc(0),
  qos: 1,
  dup: false,
  retain: false,
  messageId,
});

test('PUBACKs go out in arrival order, each once its answer is done', () => {
  const sent: number[] = [];
  const window = new AckWindow((id) => sent.push(id));
  const [a, b, c] = [1, 2, 3].map((id) => window.open(packet(id))) as [
    (ok: boolean) => void,
    (ok: boolean) => void,
    (ok: boolean) => void,
  ];
  assert.equal(window.size, 3);
  c(true);
  assert.deepEqual(sent, [], 'the third waits for the first two');
  a(true);
  assert.deepEqual(sent, [1]);
  a(true);
  assert.deepEqual(sent, [1], 'settling twice changes nothing');
  b(true);
  assert.deepEqual(sent, [1, 2, 3]);
  assert.equal(window.size, 0);
  assert.equal(window.peak, 3);
});

test('an unanswered request holds back what follows it; a new connection starts afresh', () => {
  const sent: number[] = [];
  const window = new AckWindow((id) => sent.push(id));
  const first = window.open(packet(10));
  const second = window.open(packet(11));
  const third = window.open(packet(12));
  first(true);
  second(false); // left for a redelivery
  third(true);
  assert.deepEqual(sent, [10], 'nothing after the gap is acknowledged');
  const later = window.open(packet(13));
  later(true);
  assert.deepEqual(sent, [10], 'still behind the gap on this connection');

  window.reset();
  const stale = window.open(packet(20));
  third(true); // a settlement from the old connection
  stale(true);
  assert.deepEqual(sent, [10, 20], 'the new connection acknowledges again');
});
