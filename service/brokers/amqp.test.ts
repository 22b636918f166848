/**
 * The AMQP adapter on a real RabbitMQ (a private node on a free loopback port, started here)
 * and a real Service (toy models in a temporary store): request/reply, many messages with
 * none lost, bad messages dead-lettered with their error while good ones are answered, the
 * service stopped mid-stream, the broker restarted mid-stream, a new version mid-stream,
 * and lifecycle events out.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import amqp, {
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Message,
} from 'amqplib';
import { tempStore, type TempStore } from '../reload/test-support.ts';
import { publishToyClassifier, startService, toyInfer, waitUntil } from '../test-support.ts';
import type { Service } from '../server.ts';
import { MSCR_BIN } from '../../tests/run-mscr.ts';
import { HEADERS } from './amqp.ts';
import { missingBroker, startRabbit, type TestRabbit } from './test-support.ts';

const skip = missingBroker('rabbitmq') ?? false;

interface Reply {
  correlationId: string;
  headers: Record<string, unknown>;
  body: Record<string, unknown>;
}

/** A plain amqplib client, as a user would write one: publishes requests, collects replies. */
class Client {
  connection!: ChannelModel;
  channel!: ConfirmChannel;
  readonly replies: Reply[] = [];
  readonly replyQueue = `test.replies.${randomUUID()}`;

  async open(url: string): Promise<this> {
    this.connection = await amqp.connect(url);
    this.connection.on('error', () => undefined);
    this.channel = await this.connection.createConfirmChannel();
    this.channel.on('error', () => undefined);
    // Durable, so replies survive a broker restart.
    await this.channel.assertQueue(this.replyQueue, { durable: true });
    await this.channel.consume(
      this.replyQueue,
      (message) => {
        if (!message) return;
        this.replies.push(parseReply(message));
        // Acked once recorded: a reply the broker sent just before it stopped, and that
        // this client never read, is delivered again instead of lost with the socket.
        this.channel.ack(message);
      },
      { noAck: false },
    );
    return this;
  }

  send(queue: string, body: Buffer | object, extra: Record<string, unknown> = {}): string {
    const correlationId = randomUUID();
    this.channel.sendToQueue(
      queue,
      Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)),
      {
        correlationId,
        messageId: correlationId,
        replyTo: this.replyQueue,
        persistent: true,
        contentType: 'application/json',
        ...extra,
      },
    );
    return correlationId;
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}

function parseReply(message: ConsumeMessage): Reply {
  return {
    correlationId: String(message.properties.correlationId),
    headers: (message.properties.headers ?? {}) as Record<string, unknown>,
    body: JSON.parse(message.content.toString()) as Record<string, unknown>,
  };
}

function answeredIds(replies: Reply[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of replies) counts.set(r.correlationId, (counts.get(r.correlationId) ?? 0) + 1);
  return counts;
}

async function startAmqpService(dir: string, url: string, extra = {}): Promise<Service> {
  const { service } = await startService(dir, {
    amqpUrl: url,
    amqpPrefetch: '16',
    maxBodyBytes: '65536',
    ...extra,
  });
  await service.brokers.amqp?.connected();
  await waitUntil(() => service.dataPlane.ready(), 'the models to load');
  return service;
}

describe('AMQP adapter on a real RabbitMQ', { skip, timeout: 600_000 }, () => {
  let rabbit: TestRabbit;
  let temp: TempStore;
  let service: Service;
  let client: Client;

  before(async () => {
    rabbit = await startRabbit();
    temp = await tempStore();
    await publishToyClassifier(temp.store, 'toy', 0);
    service = await startAmqpService(temp.dir, rabbit.url);
    client = await new Client().open(rabbit.url);
  });
  after(async () => {
    await client?.close();
    await service?.stop();
    await rabbit?.close();
    await temp?.cleanup();
  });

  test('request/reply: the V2 answer on reply_to with correlation id, version and prediction ids', async () => {
    const id = client.send('mscr.toy.infer', toyInfer(3));
    await waitUntil(() => client.replies.some((r) => r.correlationId === id), 'the reply');
    const reply = client.replies.find((r) => r.correlationId === id) as Reply;
    assert.equal(reply.headers[HEADERS.status], 200);
    assert.equal(reply.headers[HEADERS.version], 1);
    const ids = String(reply.headers[HEADERS.predictionIds]).split(',');
    assert.equal(ids.length, 3);
    assert.equal(reply.body.model_name, 'toy');
    assert.equal(reply.body.model_version, '1');
    assert.equal(reply.body.id, 'r1');
    const output = (reply.body.outputs as { shape: number[]; data: number[] }[])[0];
    assert.deepEqual(output?.shape, [3, 2]);
    // Class 0 wins in version 1 (favour 0).
    assert.ok((output?.data[0] ?? 0) > (output?.data[1] ?? 1));
  });

  test('200 messages: every one answered exactly once', async () => {
    const before = client.replies.length;
    const ids = Array.from({ length: 200 }, (_, i) =>
      client.send('mscr.toy.infer', toyInfer(1 + (i % 3))),
    );
    await waitUntil(() => client.replies.length >= before + 200, '200 replies', 120_000);
    const counts = answeredIds(client.replies);
    assert.deepEqual(
      ids.filter((id) => counts.get(id) !== 1),
      [],
    );
  });

  test('bad messages go to the dead-letter queue with their error; good ones are answered; the service keeps serving', async () => {
    const bad: [string, Buffer | object, Record<string, unknown>][] = [
      ['not json', Buffer.from('{"inputs": [oops'), {}],
      ['empty', Buffer.alloc(0), {}],
      [
        'wrong shape',
        { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [1, 2, 3, 4, 5] }] },
        {},
      ],
      ['wrong type', { inputs: 'all of them' }, {}],
      ['oversized', Buffer.from(JSON.stringify({ inputs: [], pad: 'x'.repeat(70_000) })), {}],
      ['hostile nesting', Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`), {}],
      ['prototype pollution', Buffer.from('{"__proto__": {"inputs": []}, "constructor": 1}'), {}],
      [
        'NaN data',
        Buffer.from(
          '{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[NaN,1,2,3]}]}',
        ),
        {},
      ],
    ];
    const good: string[] = [];
    const sent = new Map<string, string>();
    for (const [what, body, extra] of bad) {
      sent.set(client.send('mscr.toy.infer', body, extra), what);
      good.push(client.send('mscr.toy.infer', toyInfer()));
    }
    // The common queue: the model in a header; unknown and missing models are client errors.
    sent.set(
      client.send('mscr.infer', toyInfer(), { headers: { 'mscr-model': 'nope' } }),
      'unknown model',
    );
    sent.set(client.send('mscr.infer', toyInfer(), {}), 'no model header');
    sent.set(
      client.send('mscr.infer', toyInfer(), { headers: { 'mscr-model': 'x'.repeat(5000) } }),
      'huge model header',
    );
    good.push(client.send('mscr.infer', toyInfer(), { headers: { 'mscr-model': 'toy' } }));

    const all = [...good, ...sent.keys()];
    await waitUntil(
      () => all.every((id) => client.replies.some((r) => r.correlationId === id)),
      'every reply',
    );
    for (const id of good) {
      const reply = client.replies.find((r) => r.correlationId === id) as Reply;
      assert.equal(reply.headers[HEADERS.status], 200, JSON.stringify(reply.body));
    }
    for (const [id, what] of sent) {
      const reply = client.replies.find((r) => r.correlationId === id) as Reply;
      const status = Number(reply.headers[HEADERS.status]);
      assert.ok(status >= 400 && status < 500, `${what}: status ${status}`);
      assert.equal(typeof reply.body.error, 'string', what);
    }

    // The dead letters: each with the error in a header, none redelivered.
    const dead = async (queue: string) => {
      const found: Message[] = [];
      for (;;) {
        const message = await client.channel.get(queue, { noAck: true });
        if (message === false) return found;
        found.push(message);
      }
    };
    const deadToy = await dead('mscr.toy.dead');
    const deadCommon = await dead('mscr.infer.dead');
    assert.equal(deadToy.length, bad.length);
    assert.equal(deadCommon.length, 3);
    for (const message of [...deadToy, ...deadCommon]) {
      const id = String(message.properties.correlationId);
      const error = message.properties.headers?.[HEADERS.error];
      assert.equal(typeof error, 'string', sent.get(id));
      assert.ok(sent.has(id), 'a dead letter is one of the bad messages');
    }
    const unknown = deadCommon.find(
      (m) => sent.get(String(m.properties.correlationId)) === 'unknown model',
    );
    assert.match(String(unknown?.properties.headers?.[HEADERS.error]), /unknown model "nope"/);
    const notJson = deadToy.find(
      (m) => sent.get(String(m.properties.correlationId)) === 'not json',
    );
    assert.match(String(notJson?.properties.headers?.[HEADERS.error]), /not JSON/);
    assert.equal(notJson?.content.toString(), '{"inputs": [oops', 'the original body is kept');

    // Still serving, and nothing comes back later.
    const after = client.send('mscr.toy.infer', toyInfer());
    await waitUntil(
      () => client.replies.some((r) => r.correlationId === after),
      'a reply after the bad ones',
    );
    assert.equal(await client.channel.get('mscr.toy.dead'), false);
  });

  test('metrics count consumed, answered and dead-lettered messages', async () => {
    const text = await service.metrics.registry.metrics();
    assert.match(
      text,
      /mscr_broker_messages_total\{broker="amqp",model="toy",outcome="answered"\} \d+/,
    );
    assert.match(
      text,
      /mscr_broker_messages_total\{broker="amqp",model="toy",outcome="dead_lettered"\} 8/,
    );
    assert.match(text, /mscr_broker_connected\{broker="amqp"\} 1/);
  });

  test('the service stopped mid-stream: what it held is answered or redelivered, and the next service answers the rest', async () => {
    const before = client.replies.length;
    const ids = Array.from({ length: 300 }, () => client.send('mscr.toy.infer', toyInfer(2)));
    await waitUntil(() => client.replies.length >= before + 20, 'the first replies');
    await service.stop();
    const answeredByFirst = client.replies.length - before;
    assert.ok(answeredByFirst < 300, `the stop came mid-stream (${answeredByFirst} answered)`);
    service = await startAmqpService(temp.dir, rabbit.url);
    await waitUntil(() => client.replies.length >= before + 300, 'every reply', 120_000);
    const counts = answeredIds(client.replies);
    assert.deepEqual(
      ids.filter((id) => counts.get(id) !== 1),
      [],
      'each answered exactly once',
    );
  });

  test('a crash mid-stream (connection dropped, nothing acked): unacked messages are redelivered and answered', async () => {
    const before = client.replies.length;
    const ids = Array.from({ length: 200 }, () => client.send('mscr.toy.infer', toyInfer(1)));
    await waitUntil(() => client.replies.length >= before + 10, 'the first replies');
    await service.brokers.amqp?.abort();
    const next = await startAmqpService(temp.dir, rabbit.url);
    await waitUntil(
      () => ids.every((id) => client.replies.some((r) => r.correlationId === id)),
      'every reply',
      120_000,
    );
    const redelivered = client.replies.filter((r) => r.headers[HEADERS.redelivered] === true);
    // At least once: a message answered just before the drop may be answered again, flagged.
    const counts = answeredIds(client.replies);
    for (const id of ids.filter((i) => (counts.get(i) ?? 0) > 1)) {
      assert.ok(
        redelivered.some((r) => r.correlationId === id),
        'a second answer is flagged redelivered',
      );
    }
    await service.stop();
    service = next;
  });

  test('mscr serve --amqp-url gets SIGTERM mid-stream: exits 0, and every message is answered exactly once', async () => {
    await service.stop();
    const serve = () =>
      spawn(
        process.execPath,
        [MSCR_BIN, 'serve', '--store', `file://${temp.dir}`, '--port', '0', '--grpc-port', '0'],
        {
          env: {
            ...process.env,
            MSCR_AMQP_URL: rabbit.url,
            MSCR_BACKEND: 'wasm',
            MSCR_WORKERS: '1',
            MSCR_LOG_LEVEL: 'warn',
            MSCR_POLL_INTERVAL: '0.1',
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
    const before = client.replies.length;
    const ids = Array.from({ length: 300 }, () => client.send('mscr.toy.infer', toyInfer(1)));
    const first = serve();
    let stderr = '';
    first.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) =>
      first.once('exit', (code) => resolve(code)),
    );
    await waitUntil(
      () => client.replies.length >= before + 20,
      'the CLI service answering',
      120_000,
    );
    first.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM: draining/);
    const answeredByFirst = client.replies.length - before;
    const second = serve();
    try {
      await waitUntil(
        () => ids.every((id) => client.replies.some((r) => r.correlationId === id)),
        'every reply from the second CLI service',
        120_000,
      );
    } finally {
      const done = new Promise((resolve) => second.once('exit', resolve));
      second.kill('SIGTERM');
      await done;
    }
    const counts = answeredIds(client.replies);
    assert.deepEqual(
      ids.filter((id) => counts.get(id) !== 1),
      [],
      `first answered ${answeredByFirst}`,
    );
    service = await startAmqpService(temp.dir, rabbit.url);
  });

  test('the broker restarted mid-stream: the adapter reconnects and every message is answered once', async () => {
    const before = client.replies.length;
    const first = Array.from({ length: 100 }, () => client.send('mscr.toy.infer', toyInfer(1)));
    await client.channel.waitForConfirms(); // the broker has them
    await rabbit.stop();
    await client.close();
    await rabbit.start();
    client = await reopen(client, rabbit.url);
    const second = Array.from({ length: 100 }, () => client.send('mscr.toy.infer', toyInfer(1)));
    await waitUntil(
      () => [...first, ...second].every((id) => client.replies.some((r) => r.correlationId === id)),
      'every reply after the restart',
      180_000,
    );
    const counts = answeredIds(client.replies);
    assert.deepEqual(
      second.filter((id) => counts.get(id) !== 1),
      [],
    );
    assert.ok(client.replies.length - before >= 200);
    assert.match(
      await service.metrics.registry.metrics(),
      /mscr_broker_connected\{broker="amqp"\} 1/,
    );
  });

  test('a new version published mid-stream: none lost, answers switch version; lifecycle events out', async () => {
    const events: Record<string, unknown>[] = [];
    const { queue } = await client.channel.assertQueue('', { exclusive: true });
    await client.channel.bindQueue(queue, 'mscr.events', 'toy.*');
    await client.channel.consume(
      queue,
      (m) => m && events.push(JSON.parse(m.content.toString()) as Record<string, unknown>),
      { noAck: true },
    );

    const before = client.replies.length;
    let running = true;
    const ids: string[] = [];
    const pump = (async () => {
      while (running) {
        ids.push(client.send('mscr.toy.infer', toyInfer(1)));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    await waitUntil(() => client.replies.length > before + 20, 'traffic on version 1', 120_000);
    await publishToyClassifier(temp.store, 'toy', 1);
    await waitUntil(
      () => client.replies.slice(before).some((r) => r.headers[HEADERS.version] === 2),
      'answers from version 2',
      120_000,
    );
    const switched = client.replies.length;
    await waitUntil(
      () => client.replies.length > switched + 20,
      'more traffic on version 2',
      120_000,
    );
    running = false;
    await pump;
    await waitUntil(
      () => ids.every((id) => client.replies.some((r) => r.correlationId === id)),
      'every reply',
      120_000,
    );
    const versions = client.replies.slice(before).map((r) => r.headers[HEADERS.version]);
    const firstV2 = versions.indexOf(2);
    assert.ok(versions.slice(0, firstV2).every((v) => v === 1));
    assert.ok(
      versions.slice(firstV2 + 20).every((v) => v === 2),
      'version 2 answers after the switch',
    );
    await waitUntil(
      () => events.some((e) => e.type === 'serving' && e.version === 2),
      'the serving event',
    );
    const loaded = events.find((e) => e.type === 'loaded');
    assert.equal(loaded?.model, 'toy');
    assert.equal(loaded?.version, 2);
    const serving = events.find((e) => e.type === 'serving' && e.version === 2);
    assert.equal(serving?.previous, 1);
  });
});

async function reopen(old: Client, url: string): Promise<Client> {
  const fresh = new Client();
  Object.assign(fresh, { replyQueue: old.replyQueue });
  fresh.replies.push(...old.replies);
  return fresh.open(url);
}
