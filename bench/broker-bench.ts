/**
 * `npm run bench:brokers`: messages/s and latency through each broker next to HTTP, on the
 * same model, in one run. Starts a private RabbitMQ and mosquitto on loopback
 * (service/brokers/test-support.ts; `node scripts/setup-brokers.mjs` first), one Service
 * with both adapters on a toy 4-feature classifier, then for each path keeps `window`
 * requests outstanding (closed loop) for BENCH_DURATION seconds:
 *   - HTTP: POST /v2/models/toy/infer with `window` concurrent fetch loops;
 *   - AMQP: `window` unanswered messages on mscr.toy.infer, answers on a reply queue;
 *   - MQTT: `window` unanswered QoS 1 requests on mscr/toy/infer, answers on a response topic.
 * The load generators run in this process beside the Service (one event loop for both; the
 * brokers are separate processes), so figures compare the paths, they are not a ceiling.
 * Options (environment): BENCH_DURATION (s, default 5), BENCH_WARMUP (s, default 2, not
 * recorded), BENCH_WINDOW (default 32),
 * BENCH_OUT (default bench/results/brokers.json; a .md beside it).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { tempStore } from '../service/reload/test-support.ts';
import {
  publishToyClassifier,
  startService,
  toyInfer,
  waitUntil,
} from '../service/test-support.ts';
import { startMosquitto, startRabbit } from '../service/brokers/test-support.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 32);
const WARMUP_S = Number(process.env.BENCH_WARMUP ?? 2);
const OUT = process.env.BENCH_OUT ?? 'bench/results/brokers.json';
const BODY = Buffer.from(JSON.stringify(toyInfer(1)));

interface Figures {
  path: string;
  messages: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
}

function figures(name: string, latencies: number[], seconds: number): Figures {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p: number) =>
    Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 100) /
    100;
  return {
    path: name,
    messages: sorted.length,
    perSecond: Math.round(sorted.length / seconds),
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
  };
}

/** Closed loop: `send(done)` starts one request; each answer starts the next until time is up. */
async function closedLoop(
  name: string,
  start: (onAnswer: (sentAt: number) => void) => (() => void) | Promise<() => void>,
): Promise<Figures> {
  const latencies: number[] = [];
  // The first WARMUP_S seconds are not recorded (connections, JIT, the model's first batches).
  const recordFrom = performance.now() + WARMUP_S * 1000;
  const endAt = recordFrom + DURATION_S * 1000;
  let outstanding = 0;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const sendOne: () => void = await start((sentAt) => {
    if (sentAt >= recordFrom) latencies.push(performance.now() - sentAt);
    outstanding--;
    if (performance.now() < endAt) {
      outstanding++;
      sendOne();
    } else if (outstanding === 0) finished();
  });
  for (let i = 0; i < WINDOW; i++) {
    outstanding++;
    sendOne();
  }
  await done;
  return figures(name, latencies, DURATION_S);
}

const rabbit = await startRabbit();
const mosquitto = await startMosquitto();
const temp = await tempStore();
const results: Figures[] = [];
try {
  await publishToyClassifier(temp.store, 'toy', 0);
  const { service, url } = await startService(temp.dir, {
    amqpUrl: rabbit.url,
    mqttUrl: mosquitto.url,
    mqttClientId: `bench-${randomUUID().slice(0, 8)}`,
    amqpPrefetch: String(WINDOW),
  });
  await service.brokers.amqp?.connected();
  await service.brokers.mqtt?.connected();
  await waitUntil(() => service.dataPlane.ready(), 'the model');

  results.push(
    await closedLoop('HTTP (V2 JSON)', (onAnswer) => () => {
      const sentAt = performance.now();
      void fetch(`${url}/v2/models/toy/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: BODY,
      })
        .then((r) => r.arrayBuffer())
        .then(() => onAnswer(sentAt));
    }),
  );

  const connection = await amqp.connect(rabbit.url);
  const channel = await connection.createChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true });
  results.push(
    await closedLoop('AMQP (RabbitMQ, quorum queue, confirms)', async (onAnswer) => {
      const sent = new Map<string, number>();
      await channel.consume(
        queue,
        (m) => {
          const at = m && sent.get(String(m.properties.correlationId));
          if (at !== undefined && at !== null) onAnswer(at);
        },
        { noAck: true },
      );
      return () => {
        const id = randomUUID();
        sent.set(id, performance.now());
        channel.sendToQueue('mscr.toy.infer', BODY, { correlationId: id, replyTo: queue });
      };
    }),
  );
  await connection.close();

  const client = await mqtt.connectAsync(mosquitto.url, {
    protocolVersion: 5,
    clientId: `bench-device-${randomUUID().slice(0, 8)}`,
  });
  const replies = `bench/replies/${randomUUID().slice(0, 8)}`;
  await client.subscribeAsync(replies, { qos: 1 });
  results.push(
    await closedLoop('MQTT (mosquitto, QoS 1)', (onAnswer) => {
      const sent = new Map<string, number>();
      client.on('message', (_t, _p, packet) => {
        const at = sent.get(String(packet.properties?.correlationData));
        if (at !== undefined) onAnswer(at);
      });
      return () => {
        const id = randomUUID();
        sent.set(id, performance.now());
        client.publish('mscr/toy/infer', BODY, {
          qos: 1,
          properties: { responseTopic: replies, correlationData: Buffer.from(id) },
        });
      };
    }),
  );
  await client.endAsync();
  await service.stop();
} finally {
  await rabbit.close();
  await mosquitto.close();
  await temp.cleanup();
}

const table = [
  `Broker bench: ${DURATION_S} s per path after ${WARMUP_S} s of warm-up, ${WINDOW} requests outstanding, toy 4-feature classifier, one Service (1 worker), load generators in the same process.`,
  '',
  '| path | answered | answers/s | p50 ms | p95 ms | p99 ms |',
  '| ---- | -------: | --------: | -----: | -----: | -----: |',
  ...results.map(
    (r) => `| ${r.path} | ${r.messages} | ${r.perSecond} | ${r.p50} | ${r.p95} | ${r.p99} |`,
  ),
].join('\n');
await mkdir(path.dirname(OUT), { recursive: true });
await writeFile(
  OUT,
  JSON.stringify(
    { at: new Date().toISOString(), durationS: DURATION_S, window: WINDOW, results },
    null,
    2,
  ),
);
await writeFile(OUT.replace(/\.json$/, '.md'), `${table}\n`);
console.log(table);
