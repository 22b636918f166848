/**
 * The MQTT adapter on a real mosquitto (private, on a free loopback port, started here) and
 * a real Service: results topic and MQTT 5 response topic with correlation data, bad
 * requests answered with their error while good ones are answered, the service stopped with
 * requests queued (the persistent session hands them to the next start), the broker
 * restarted mid-stream, an MQTT 3.1.1 client, and lifecycle events out.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { tempStore, type TempStore } from '../reload/test-support.ts';
import sharp from 'sharp';
import {
  publishToyClassifier,
  publishToyForecaster,
  publishToyImageClassifier,
  startService,
  toyInfer,
  waitUntil,
} from '../test-support.ts';
import type { Service } from '../server.ts';
import { missingBroker, startMosquitto, type TestMosquitto } from './test-support.ts';

const skip = missingBroker('mosquitto') ?? false;

interface Answer {
  topic: string;
  correlation: string | undefined;
  status: string | undefined;
  version: string | undefined;
  ids: string | undefined;
  body: Record<string, unknown>;
}

/** Every device client, ended in `after` even when a test fails (an open client keeps the process alive). */
const devices: MqttClient[] = [];

/** A device-side client: publishes requests with a request number in the body's `id`. */
async function device(
  url: string,
  version: 4 | 5 = 5,
): Promise<{ client: MqttClient; answers: Answer[] }> {
  const client = await mqtt.connectAsync(url, {
    protocolVersion: version,
    clientId: `device-${randomUUID()}`,
    clean: true,
    reconnectPeriod: 200,
  });
  devices.push(client);
  const answers: Answer[] = [];
  client.on('message', (topic, payload, packet) => {
    const user = (packet.properties?.userProperties ?? {}) as Record<string, string>;
    answers.push({
      topic,
      correlation: packet.properties?.correlationData?.toString(),
      status: user['mscr-status'],
      version: user['mscr-model-version'],
      ids: user['mscr-prediction-ids'],
      body: JSON.parse(payload.toString()) as Record<string, unknown>,
    });
  });
  return { client, answers };
}

function request(id: string, rows = 1): string {
  return JSON.stringify({ ...toyInfer(rows), id });
}

async function startMqttService(dir: string, url: string, clientId: string): Promise<Service> {
  const { service } = await startService(dir, {
    mqttUrl: url,
    mqttClientId: clientId,
    maxBodyBytes: '65536',
  });
  await service.brokers.mqtt?.connected();
  await waitUntil(() => service.dataPlane.ready(), 'the models to load');
  return service;
}

describe('MQTT adapter on a real mosquitto', { skip, timeout: 600_000 }, () => {
  let broker: TestMosquitto;
  let temp: TempStore;
  let service: Service;
  const clientId = `mscr-test-${randomUUID().slice(0, 8)}`;

  before(async () => {
    broker = await startMosquitto();
    temp = await tempStore();
    await publishToyClassifier(temp.store, 'toy', 0);
    await publishToyForecaster(temp.store, 'fc');
    await publishToyImageClassifier(temp.store, 'img');
    service = await startMqttService(temp.dir, broker.url, clientId);
  });
  after(async () => {
    await Promise.all(devices.map((c) => c.endAsync(true).catch(() => undefined)));
    await service?.stop();
    await broker?.close();
    await temp?.cleanup();
  });

  test('answers on mscr/<model>/result, and on the MQTT 5 response topic with the correlation data', async () => {
    const { client, answers } = await device(broker.url);
    await client.subscribeAsync(['mscr/toy/result', 'replies/me'], { qos: 1 });
    await client.publishAsync('mscr/toy/infer', request('plain', 2), { qos: 1 });
    await client.publishAsync('mscr/toy/infer', request('direct'), {
      qos: 1,
      properties: { responseTopic: 'replies/me', correlationData: Buffer.from('corr-42') },
    });
    await waitUntil(() => answers.length >= 2, 'two answers');
    const plain = answers.find((a) => a.body.id === 'plain') as Answer;
    assert.equal(plain.topic, 'mscr/toy/result');
    assert.equal(plain.status, '200');
    assert.equal(plain.version, '1');
    assert.equal(plain.ids?.split(',').length, 2);
    assert.deepEqual((plain.body.outputs as { shape: number[] }[])[0]?.shape, [2, 2]);
    const direct = answers.find((a) => a.body.id === 'direct') as Answer;
    assert.equal(direct.topic, 'replies/me');
    assert.equal(direct.correlation, 'corr-42');
    await client.endAsync();
  });

  test('requests are handled side by side (the in-flight window feeds the batcher), each answered once', async () => {
    const { client, answers } = await device(broker.url);
    await client.subscribeAsync('replies/window', { qos: 1 });
    const n = 64;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        client.publishAsync('mscr/toy/infer', request(`w${i}`), {
          qos: 1,
          properties: { responseTopic: 'replies/window', correlationData: Buffer.from(`w${i}`) },
        }),
      ),
    );
    const mine = () => answers.filter((a) => a.topic === 'replies/window');
    await waitUntil(() => mine().length >= n, 'every answer');
    assert.equal(mine().length, n, 'no answer twice');
    assert.equal(new Set(mine().map((a) => a.correlation)).size, n);
    assert.ok(mine().every((a) => a.status === '200' && a.version === '1'));
    // One at a time, the peak would be 1: the broker sent up to the receive maximum at once.
    const peak = service.brokers.mqtt?.peakInFlight ?? 0;
    assert.ok(peak > 1, `requests in flight at once: ${peak}`);
  });

  test('an image and a CSV window by content type; a bad content type and hostile response topics', async () => {
    const { client, answers } = await device(broker.url);
    await client.subscribeAsync(['mscr/+/result', 'replies/+'], { qos: 1 });
    const png = await sharp({
      create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 10, b: 10 } },
    })
      .png()
      .toBuffer();
    const ask = (topic: string, body: string | Buffer, props: Record<string, unknown>) =>
      client.publishAsync(topic, body, { qos: 1, properties: props });
    await ask('mscr/img/infer', png, { contentType: 'image/png', responseTopic: 'replies/img' });
    await ask('mscr/fc/infer', 'Open,Close\n100,110\n120,130\n140,150\n', {
      contentType: 'text/csv',
      responseTopic: 'replies/fc',
    });
    await ask('mscr/img/infer', Buffer.from('not an image at all'), {
      contentType: 'image/png',
      responseTopic: 'replies/badimg',
    });
    await ask('mscr/fc/infer', 'Open,Close\n1,x\n', {
      contentType: 'text/csv',
      responseTopic: 'replies/badcsv',
    });
    await ask('mscr/toy/infer', request('xml'), {
      contentType: 'application/xml',
      responseTopic: 'replies/xml',
    });
    // Response topics the answer may not go to: wildcards, $SYS: the results topic instead.
    await ask('mscr/toy/infer', request('wild'), { responseTopic: 'replies/#' });
    await ask('mscr/toy/infer', request('sys'), { responseTopic: '$SYS/broker/x' });
    await waitUntil(() => answers.length >= 7, 'seven answers');
    const on = (topic: string) => answers.find((a) => a.topic === topic) as Answer;
    assert.equal(on('replies/img').status, '200');
    assert.equal(
      (on('replies/img').body.predictions as { label: string }[][])[0]?.[0]?.label,
      'cat',
    );
    assert.equal(on('replies/fc').status, '200');
    assert.equal(Math.round(Number((on('replies/fc').body.forecast as number[])[0])), 150);
    assert.equal(on('replies/badimg').status, '415'); // not a known image format
    assert.equal(on('replies/badcsv').status, '400');
    assert.equal(on('replies/xml').status, '415');
    const toyAnswers = answers.filter((a) => a.topic === 'mscr/toy/result').map((a) => a.body.id);
    assert.deepEqual(toyAnswers.sort(), ['sys', 'wild']);
    await client.endAsync();
  });

  test('an MQTT 3.1.1 device gets its answer on the results topic', async () => {
    const { client, answers } = await device(broker.url, 4);
    await client.subscribeAsync('mscr/toy/result', { qos: 1 });
    await client.publishAsync('mscr/toy/infer', request('v311'), { qos: 1 });
    await waitUntil(() => answers.some((a) => a.body.id === 'v311'), 'the answer');
    await client.endAsync();
  });

  test('bad requests are answered with their error and acknowledged; good ones are answered', async () => {
    const { client, answers } = await device(broker.url);
    await client.subscribeAsync('mscr/+/result', { qos: 1 });
    const bad: [string, string | Buffer][] = [
      ['mscr/toy/infer', '{"inputs": [oops'],
      ['mscr/toy/infer', ''],
      [
        'mscr/toy/infer',
        JSON.stringify({
          inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [1, 2, 3, 4, 5] }],
        }),
      ],
      ['mscr/toy/infer', JSON.stringify({ inputs: [], pad: 'x'.repeat(70_000) })],
      ['mscr/toy/infer', `${'['.repeat(5000)}${']'.repeat(5000)}`],
      ['mscr/toy/infer', Buffer.from([0xff, 0xfe, 0x00, 0x01])],
      ['mscr/nope/infer', request('unknown-model')],
    ];
    for (const [topic, payload] of bad) {
      await client.publishAsync(topic, payload, { qos: 1 });
      await client.publishAsync('mscr/toy/infer', request(`good-${randomUUID()}`), { qos: 1 });
    }
    await waitUntil(() => answers.length >= bad.length * 2, 'every answer');
    const errors = answers.filter((a) => a.status !== '200');
    const goods = answers.filter((a) => a.status === '200');
    assert.equal(errors.length, bad.length);
    assert.equal(goods.length, bad.length);
    for (const e of errors) {
      assert.ok(Number(e.status) >= 400 && Number(e.status) < 500, String(e.status));
      assert.equal(typeof e.body.error, 'string');
    }
    const unknown = errors.find((e) => e.topic === 'mscr/nope/result');
    assert.match(String(unknown?.body.error), /unknown model "nope"/);
    // Metric labels only for known models: a sender's topic cannot grow the label set.
    const metrics = await service.metrics.registry.metrics();
    assert.doesNotMatch(metrics, /model="nope"/);
    assert.match(
      metrics,
      /mscr_broker_messages_total\{broker="mqtt",model="unknown",outcome="dead_lettered"\} 1/,
    );
    const toyErrors = /broker="mqtt",model="toy",outcome="dead_lettered"\} (\d+)/.exec(metrics);
    assert.ok(Number(toyErrors?.[1]) >= bad.length - 1, 'the bad toy requests are counted');
    // Nothing is redelivered later.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(answers.length, bad.length * 2);
    await client.endAsync();
  });

  test('the service stopped: requests published meanwhile wait in its session and are answered after the restart', async () => {
    const { client, answers } = await device(broker.url);
    await client.subscribeAsync('mscr/toy/result', { qos: 1 });
    const ids = Array.from({ length: 100 }, (_, i) => `stop-${i}`);
    const sending = (async () => {
      for (const id of ids) await client.publishAsync('mscr/toy/infer', request(id), { qos: 1 });
    })();
    await waitUntil(() => answers.length >= 10, 'the first answers');
    await service.stop();
    await sending;
    const answeredByFirst = answers.length;
    assert.ok(answeredByFirst < 100, `stopped mid-stream (${answeredByFirst} answered)`);
    service = await startMqttService(temp.dir, broker.url, clientId);
    await waitUntil(
      () => ids.every((id) => answers.some((a) => a.body.id === id)),
      'every answer',
      60_000,
    );
    const counts = new Map<unknown, number>();
    for (const a of answers) counts.set(a.body.id, (counts.get(a.body.id) ?? 0) + 1);
    assert.deepEqual(
      ids.filter((id) => counts.get(id) !== 1),
      [],
      'each answered exactly once',
    );
    await client.endAsync();
  });

  test('the broker restarted mid-stream: the adapter reconnects and the session goes on', async () => {
    const { client, answers } = await device(broker.url);
    await client.subscribeAsync('mscr/toy/result', { qos: 1 });
    const first = Array.from({ length: 30 }, (_, i) => `before-${i}`);
    for (const id of first) await client.publishAsync('mscr/toy/infer', request(id), { qos: 1 });
    await waitUntil(
      () => first.every((id) => answers.some((a) => a.body.id === id)),
      'answers before',
    );
    await broker.stop();
    await broker.start();
    // The device's clean session is gone with the restart: it subscribes again.
    await waitUntil(() => client.connected, 'the device to reconnect', 30_000);
    await client.subscribeAsync('mscr/toy/result', { qos: 1 });
    const second = Array.from({ length: 30 }, (_, i) => `after-${i}`);
    for (const id of second) await client.publishAsync('mscr/toy/infer', request(id), { qos: 1 });
    await waitUntil(
      () => second.every((id) => answers.some((a) => a.body.id === id)),
      'answers after',
      60_000,
    );
    await client.endAsync();
  });

  test('lifecycle events on mscr/events/<model> when a new version loads', async () => {
    const { client } = await device(broker.url);
    const events: Record<string, unknown>[] = [];
    client.removeAllListeners('message');
    client.on('message', (_topic, payload) =>
      events.push(JSON.parse(payload.toString()) as Record<string, unknown>),
    );
    await client.subscribeAsync('mscr/events/toy', { qos: 1 });
    await publishToyClassifier(temp.store, 'toy', 1);
    await waitUntil(
      () => events.some((e) => e.type === 'serving' && e.version === 2),
      'the serving event',
      60_000,
    );
    assert.ok(events.some((e) => e.type === 'loaded' && e.version === 2));
    await client.endAsync();
  });
});
