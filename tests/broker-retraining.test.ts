/**
 * Retraining over the brokers, every part real: a private RabbitMQ and mosquitto (started
 * here on free loopback ports), a Service with both adapters, the local retraining launcher
 * (a child process of `mscr retrain` per run, as `mscr serve` uses) and a linear forecaster
 * trained on the real GOOG series. A trigger message with the admin token starts a real
 * run: the trigger is answered (started), a second trigger while the run holds the model is
 * answered with the conflict, and the run's outcome (published, rejected by the gate with
 * its reason, failed) is answered to the trigger and evented on `mscr.events` and
 * `mscr/events/<model>`. Hostile triggers (no token, a wrong token, not JSON, too big, an
 * unknown model, an unknown field) are dead-lettered with their error, start nothing, and
 * the service keeps serving.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import amqp, { type ChannelModel, type ConfirmChannel, type GetMessage } from 'amqplib';
import mqtt, { type MqttClient } from 'mqtt';
import { createLocalLauncher } from '../cli/retrain-launcher.ts';
import type { RetrainLauncher, RetrainRun } from '../connectors/sr/index.ts';
import type { Service } from '../service/server.ts';
import { startService, waitUntil } from '../service/test-support.ts';
import {
  missingBroker,
  startMosquitto,
  startRabbit,
  type TestMosquitto,
  type TestRabbit,
} from '../service/brokers/test-support.ts';
import { runMscr } from './run-mscr.ts';
import { sharedData } from './shared-data.ts';

const skip = missingBroker('rabbitmq') ?? missingBroker('mosquitto') ?? false;
const TOKEN = 'broker-retrain-admin-token-0123';
const MODEL = 'stock';

interface AmqpReply {
  correlationId: string;
  status: number;
  body: Record<string, unknown>;
}

interface AmqpEvent {
  key: string;
  body: Record<string, unknown>;
}

interface MqttAnswer {
  topic: string;
  correlation: string | undefined;
  status: string | undefined;
  error: string | undefined;
  body: Record<string, unknown>;
}

describe('retraining over the brokers', { skip, timeout: 900_000 }, () => {
  let rabbit: TestRabbit;
  let mosquitto: TestMosquitto;
  let dir: string;
  let store: string;
  let service: Service;
  let url: string;
  let launcher: RetrainLauncher;
  /** `mscr retrain` arguments of the next run (the local launcher reads them at each start). */
  const extraArgs: string[] = [];
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  const replyQueue = `test.retrain.replies.${randomUUID()}`;
  const replies: AmqpReply[] = [];
  const amqpEvents: AmqpEvent[] = [];
  let device: MqttClient;
  const answers: MqttAnswer[] = [];
  const mqttEvents: Record<string, unknown>[] = [];

  const runsOf = async (): Promise<RetrainRun[]> => launcher.runs(MODEL, { limit: 100 });

  /** A trigger on a queue; `headers` replaces the default (the valid token). */
  const trigger = (
    queue: string,
    body: Buffer | object | undefined,
    headers: Record<string, unknown> = { authorization: `Bearer ${TOKEN}` },
  ): string => {
    const correlationId = randomUUID();
    channel.sendToQueue(
      queue,
      body === undefined
        ? Buffer.alloc(0)
        : Buffer.isBuffer(body)
          ? body
          : Buffer.from(JSON.stringify(body)),
      {
        correlationId,
        messageId: correlationId,
        replyTo: replyQueue,
        contentType: 'application/json',
        persistent: true,
        headers,
      },
    );
    return correlationId;
  };

  const replyTo = async (
    correlationId: string,
    count = 1,
    timeoutMs = 180_000,
  ): Promise<AmqpReply[]> => {
    const mine = () => replies.filter((r) => r.correlationId === correlationId);
    await waitUntil(
      () => mine().length >= count,
      `${count} replies to ${correlationId}`,
      timeoutMs,
    );
    return mine();
  };

  /** Triggers until the answer is not a conflict (the previous run's process still exiting). */
  const triggerWhenFree = async (
    queue: string,
    body: object,
    headers: Record<string, unknown>,
  ): Promise<{ id: string; reply: AmqpReply | undefined }> => {
    for (let attempt = 0; ; attempt++) {
      const id = trigger(queue, body, headers);
      const [reply] = await replyTo(id);
      if (reply?.status !== 409 || attempt > 100) return { id, reply };
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  const drain = async (queue: string): Promise<GetMessage[]> => {
    const got: GetMessage[] = [];
    for (;;) {
      const message = await channel.get(queue, { noAck: true });
      if (message === false) return got;
      got.push(message);
    }
  };

  before(async () => {
    [rabbit, mosquitto] = await Promise.all([startRabbit(), startMosquitto()]);
    dir = await mkdtemp(join(tmpdir(), 'mscr-broker-retrain-'));
    store = `file://${join(dir, 'models')}`;
    const data = sharedData('stock/goog_daily.csv');
    const trained = await runMscr([
      'train',
      '--model',
      MODEL,
      '--arch',
      'linear',
      '--data',
      data,
      '--epochs',
      '1',
      '--store',
      store,
      '--quiet',
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    launcher = createLocalLauncher({
      store,
      data: [data],
      extraArgs,
      logDir: join(dir, 'logs'),
    });
    ({ service, url } = await startService(
      store,
      {
        models: MODEL,
        amqpUrl: rabbit.url,
        mqttUrl: mosquitto.url,
        mqttClientId: `mscr-retrain-${randomUUID().slice(0, 8)}`,
        adminToken: TOKEN,
        retrainEventsInterval: '0.2',
      },
      { retrain: launcher },
    ));
    await Promise.all([service.brokers.amqp?.connected(), service.brokers.mqtt?.connected()]);
    await waitUntil(() => service.dataPlane.ready(), 'the model to load', 60_000);

    connection = await amqp.connect(rabbit.url);
    connection.on('error', () => undefined);
    channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    await channel.assertQueue(replyQueue, { durable: false, autoDelete: true });
    await channel.consume(
      replyQueue,
      (message) => {
        if (!message) return;
        replies.push({
          correlationId: String(message.properties.correlationId),
          status: Number(message.properties.headers?.['mscr-status']),
          body: JSON.parse(message.content.toString()) as Record<string, unknown>,
        });
      },
      { noAck: true },
    );
    // Everything about the model's retraining on the events exchange.
    const events = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(events.queue, 'mscr.events', `${MODEL}.retraining.*`);
    await channel.consume(
      events.queue,
      (message) => {
        if (!message) return;
        amqpEvents.push({
          key: message.fields.routingKey,
          body: JSON.parse(message.content.toString()) as Record<string, unknown>,
        });
      },
      { noAck: true },
    );

    device = await mqtt.connectAsync(mosquitto.url, {
      protocolVersion: 5,
      clientId: `ops-${randomUUID()}`,
      clean: true,
    });
    device.on('message', (topic, payload, packet) => {
      const body = JSON.parse(payload.toString()) as Record<string, unknown>;
      if (topic === `mscr/events/${MODEL}`) {
        mqttEvents.push(body);
        return;
      }
      const user = (packet.properties?.userProperties ?? {}) as Record<string, string>;
      answers.push({
        topic,
        correlation: packet.properties?.correlationData?.toString(),
        status: user['mscr-status'],
        error: user['mscr-error'],
        body,
      });
    });
    await device.subscribeAsync([`mscr/events/${MODEL}`, 'ops/replies', 'mscr/+/retrain/result'], {
      qos: 1,
    });
  });

  after(async () => {
    await device?.endAsync(true).catch(() => undefined);
    await connection?.close().catch(() => undefined);
    // A run still going would write to the store we delete: wait for it (bounded).
    if (launcher)
      await waitUntil(
        async () => !(await runsOf()).some((r) => r.outcome === 'running'),
        'runs to end',
        120_000,
      ).catch(() => undefined);
    await service?.stop();
    await Promise.all([rabbit?.close(), mosquitto?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('AMQP: a trigger starts a real run, a second one meanwhile is a conflict, the outcome (published) is answered and evented', async () => {
    extraArgs.splice(
      0,
      extraArgs.length,
      '--backend',
      'wasm',
      '--epochs',
      '1',
      '--tolerance',
      '1000000',
    );
    const first = trigger(`mscr.${MODEL}.retrain`, { reason: 'new data arrived' });
    const second = trigger(`mscr.${MODEL}.retrain`, {});
    const [started] = await replyTo(first);
    assert.equal(started?.status, 202, JSON.stringify(started?.body));
    assert.equal(started?.body.state, 'started');
    assert.equal(started?.body.model, MODEL);
    const runId = String(started?.body.runId);
    assert.match(runId, /^\d{8}T\d{6}Z-[0-9a-f]{8}$/);

    const [conflict] = await replyTo(second);
    assert.equal(conflict?.status, 409, JSON.stringify(conflict?.body));
    assert.equal(conflict?.body.state, 'conflict');
    assert.match(String(conflict?.body.error), /already (running|starting)/);

    // The outcome, answered to the trigger (its second reply) and evented.
    const [, outcome] = await replyTo(first, 2);
    assert.equal(outcome?.body.state, 'published', JSON.stringify(outcome?.body));
    assert.equal(outcome?.body.runId, runId);
    assert.equal(outcome?.body.version, 2);
    assert.match(String(outcome?.body.reason), /candidate at least as good/);

    const record = (await runsOf()).find((r) => r.id === runId);
    assert.equal(record?.outcome, 'published');
    assert.deepEqual(record?.trigger, { kind: 'request', reason: 'new data arrived' });
    assert.equal((await runsOf()).length, 1, 'the conflicting trigger started nothing');

    await waitUntil(
      () => amqpEvents.filter((e) => e.body.runId === runId).length >= 2,
      'the started and published events on mscr.events',
    );
    assert.deepEqual(
      amqpEvents.filter((e) => e.body.runId === runId).map((e) => e.key),
      [`${MODEL}.retraining.started`, `${MODEL}.retraining.published`],
    );
    await waitUntil(
      () => mqttEvents.filter((e) => e.runId === runId).length >= 2,
      'the same events on mscr/events/stock',
    );
    assert.deepEqual(
      mqttEvents.filter((e) => e.runId === runId).map((e) => e.type),
      ['retraining.started', 'retraining.published'],
    );
    const published = amqpEvents.find((e) => e.key.endsWith('published'))?.body;
    assert.equal(published?.version, 2);
    assert.deepEqual(published?.trigger, { kind: 'request', reason: 'new data arrived' });
    assert.equal(typeof (published?.baseline as { version?: number })?.version, 'number');

    // The Service loads what the run published.
    await waitUntil(
      () =>
        service.manager
          .status(MODEL)
          .versions.some((v) => v.version === 2 && v.state === 'AVAILABLE'),
      'version 2 serving',
      60_000,
    );
  });

  test('MQTT: a trigger with the token in a user property; the gate rejects the candidate and the answer says why', async () => {
    extraArgs.splice(
      0,
      extraArgs.length,
      '--backend',
      'wasm',
      '--epochs',
      '1',
      '--min-held-out',
      '100000',
    );
    const before = (await runsOf()).length;
    // The previous run's process may still be exiting (its outcome is recorded already):
    // a conflict then, and the sender tries again, as a real one would.
    let attempt = 0;
    let correlation = '';
    const mine = () => answers.filter((a) => a.correlation === correlation);
    for (;;) {
      correlation = `mqtt-run-${attempt++}`;
      await device.publishAsync(`mscr/${MODEL}/retrain`, JSON.stringify({ reason: 'weekly' }), {
        qos: 1,
        properties: {
          responseTopic: 'ops/replies',
          correlationData: Buffer.from(correlation),
          userProperties: { authorization: `Bearer ${TOKEN}` },
        },
      });
      await waitUntil(() => mine().length >= 1, 'the answer to the trigger');
      if (mine()[0]?.status !== '409' || attempt > 100) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const started = mine()[0];
    assert.equal(started?.topic, 'ops/replies');
    assert.equal(started?.status, '202', JSON.stringify(started?.body));
    const runId = String(started?.body.runId);

    await waitUntil(() => mine().length >= 2, 'the outcome answer', 180_000);
    const outcome = mine()[1];
    assert.equal(outcome?.body.state, 'rejected', JSON.stringify(outcome?.body));
    assert.equal(outcome?.body.runId, runId);
    assert.match(String(outcome?.body.reason), /only \d+ held-out samples .*fewer than 100000/);
    assert.equal(outcome?.body.version, undefined, 'nothing published');

    await waitUntil(
      () => mqttEvents.some((e) => e.runId === runId && e.type === 'retraining.rejected'),
      'the rejected event',
    );
    const event = mqttEvents.find((e) => e.type === 'retraining.rejected');
    assert.match(String(event?.reason), /held-out samples/);
    await waitUntil(
      () => amqpEvents.some((e) => e.key === `${MODEL}.retraining.rejected`),
      'the rejected event on AMQP too',
    );
    const runs = await runsOf();
    assert.equal(runs.length, before + 1);
    assert.equal(runs[0]?.outcome, 'rejected');
    assert.deepEqual(runs[0]?.trigger, { kind: 'request', reason: 'weekly' });
  });

  test('AMQP common queue (model in a header): a run that fails is answered and evented as failed with the error', async () => {
    extraArgs.splice(
      0,
      extraArgs.length,
      '--backend',
      'wasm',
      '--epochs',
      '1',
      '--arch',
      'no-such-architecture',
    );
    const { id, reply: started } = await triggerWhenFree(
      'mscr.retrain',
      {},
      { authorization: `Bearer ${TOKEN}`, 'mscr-model': MODEL },
    );
    assert.equal(started?.status, 202, JSON.stringify(started?.body));
    const runId = String(started?.body.runId);
    const [, outcome] = await replyTo(id, 2);
    assert.equal(outcome?.body.state, 'failed', JSON.stringify(outcome?.body));
    assert.match(String(outcome?.body.reason), /no-such-architecture/);
    await waitUntil(
      () => amqpEvents.some((e) => e.body.runId === runId && e.key.endsWith('.failed')),
      'the failed event',
    );
    const record = (await runsOf()).find((r) => r.id === runId);
    assert.equal(record?.outcome, 'failed');
  });

  test('hostile triggers are dead-lettered with their error, start nothing, and the service keeps serving', async () => {
    extraArgs.splice(0, extraArgs.length, '--backend', 'wasm', '--epochs', '1');
    const before = (await runsOf()).length;
    const queue = `mscr.${MODEL}.retrain`;
    const cases: [string, string, number, RegExp][] = [
      ['no token', trigger(queue, {}, {}), 401, /send the admin token/],
      [
        'not a bearer token',
        trigger(queue, {}, { authorization: TOKEN }),
        401,
        /send the admin token/,
      ],
      [
        'wrong token',
        trigger(queue, {}, { authorization: 'Bearer not-the-admin-token-at-all' }),
        401,
        /admin token is not valid/,
      ],
      [
        'token as bytes, wrong',
        trigger(queue, {}, { authorization: Buffer.from('Bearer x') }),
        401,
        /not valid/,
      ],
      ['not JSON', trigger(queue, Buffer.from('{"reason": ')), 400, /not JSON/],
      ['not an object', trigger(queue, [1, 2]), 400, /JSON object/],
      ['unknown field', trigger(queue, { reason: 'x', epochs: 1000 }), 400, /unknown field/],
      ['reason too long', trigger(queue, { reason: 'x'.repeat(600) }), 400, /at most 500/],
      // 8 KiB: over the trigger's limit (a 1 MiB dead letter never came back from basic.get here).
      ['oversized', trigger(queue, Buffer.alloc(8192, 0x41)), 413, /larger than the 4096-byte/],
      [
        'unknown model',
        trigger('mscr.retrain', {}, { authorization: `Bearer ${TOKEN}`, 'mscr-model': 'ghost' }),
        404,
        /ghost/,
      ],
      [
        'no model header',
        trigger('mscr.retrain', {}, { authorization: `Bearer ${TOKEN}` }),
        400,
        /mscr-model header/,
      ],
    ];
    for (const [what, id, status, error] of cases) {
      const [reply] = await replyTo(id, 1, 30_000).catch((e: Error) => {
        throw new Error(`${what}: ${e.message}`);
      });
      assert.equal(reply?.status, status, `${what}: ${JSON.stringify(reply?.body)}`);
      assert.match(String(reply?.body.error), error, what);
    }
    // The dead letters, each with its error; the model's in its dead queue, the common
    // queue's in mscr.retrain.dead.
    await waitUntil(async () => {
      const q = await channel.checkQueue(`mscr.${MODEL}.dead`);
      return q.messageCount >= 9;
    }, 'the dead letters');
    const dead = [...(await drain(`mscr.${MODEL}.dead`)), ...(await drain('mscr.retrain.dead'))];
    assert.equal(dead.length, cases.length);
    for (const [what, id, status, error] of cases) {
      const letter = dead.find((m) => m.properties.correlationId === id);
      assert.ok(letter, `${what} was dead-lettered`);
      assert.match(String(letter.properties.headers?.['mscr-error']), error, what);
      assert.equal(letter.properties.headers?.['mscr-status'], status, what);
      assert.equal(letter.properties.headers?.authorization, undefined, `${what}: no token kept`);
    }

    // MQTT: no user property, a wrong token, not JSON, too big, an unknown model, no model.
    const mqttCases: [string, string, Buffer | string, Record<string, string>, string, RegExp][] = [
      ['no token', `mscr/${MODEL}/retrain`, '{}', {}, '401', /send the admin token/],
      [
        'wrong token',
        `mscr/${MODEL}/retrain`,
        '{}',
        { authorization: 'Bearer wrong' },
        '401',
        /not valid/,
      ],
      [
        'not JSON',
        `mscr/${MODEL}/retrain`,
        Buffer.from([0xff, 0x00, 0x7b]),
        { authorization: `Bearer ${TOKEN}` },
        '400',
        /not JSON/,
      ],
      [
        'oversized',
        `mscr/${MODEL}/retrain`,
        Buffer.alloc(100_000, 0x20),
        { authorization: `Bearer ${TOKEN}` },
        '413',
        /larger than/,
      ],
      [
        'unknown model',
        'mscr/ghost/retrain',
        '{}',
        { authorization: `Bearer ${TOKEN}` },
        '404',
        /ghost/,
      ],
      [
        'no model',
        'mscr//retrain',
        '{}',
        { authorization: `Bearer ${TOKEN}` },
        '400',
        /names no model/,
      ],
    ];
    for (const [what, topic, payload, user] of mqttCases) {
      await device.publishAsync(topic, payload, {
        qos: 1,
        properties: {
          correlationData: Buffer.from(`bad-${what}`),
          // No property at all when there is none (mqtt.js 5.16 never sends a publish with
          // an empty userProperties object).
          ...(Object.keys(user).length > 0 ? { userProperties: user } : {}),
        },
      });
    }
    for (const [what, topic, , , status, error] of mqttCases) {
      const mine = () => answers.find((a) => a.correlation === `bad-${what}`);
      await waitUntil(() => mine() !== undefined, `the answer to ${what}`);
      const answer = mine();
      // A topic without a model is answered under `unknown`, as a request's is.
      const expected = topic === 'mscr//retrain' ? 'mscr/unknown/retrain' : topic;
      assert.equal(answer?.topic, `${expected}/result`, what);
      assert.equal(answer?.status, status, `${what}: ${JSON.stringify(answer?.body)}`);
      assert.match(String(answer?.body.error), error, what);
      assert.equal(answer?.error, answer?.body.error, `${what}: the error in mscr-error too`);
    }

    // Nothing started, and the service still answers HTTP, AMQP and MQTT.
    assert.equal((await runsOf()).length, before, 'no hostile trigger started a run');
    assert.equal(service.brokers.amqp?.inFlight, 0);
    const ready = await fetch(`${url}/v2/models/${MODEL}/ready`);
    assert.equal(ready.status, 200);
    const window = {
      inputs: [
        {
          name: 'window',
          shape: [1, 7, 5],
          datatype: 'FP32',
          data: Array.from({ length: 35 }, (_, i) => 800 + i),
        },
      ],
    };
    const inferId = randomUUID();
    channel.sendToQueue(`mscr.${MODEL}.infer`, Buffer.from(JSON.stringify(window)), {
      correlationId: inferId,
      replyTo: replyQueue,
      contentType: 'application/json',
    });
    const [inferred] = await replyTo(inferId);
    assert.equal(inferred?.status, 200, JSON.stringify(inferred?.body));
    assert.equal((inferred?.body.outputs as unknown[]).length, 1);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(
        `mscr_broker_retrain_triggers_total\\{broker="amqp",model="${MODEL}",outcome="dead_lettered"\\} 9`,
      ),
    );
    assert.match(
      metrics,
      /mscr_broker_retrain_triggers_total\{broker="mqtt",model="unknown",outcome="dead_lettered"\} 2/,
    );
    assert.match(
      metrics,
      /mscr_broker_events_total\{broker="amqp",type="retraining.published"\} 1/,
    );
  });
});
