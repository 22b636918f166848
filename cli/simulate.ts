/**
 * `mscr simulate`: devices streaming real data to a model over MQTT, as in the ML-scaling
 * study. Each device is its own MQTT 5 client publishing QoS 1 requests at `rate` messages
 * per second, with its own response topic and a sequence number as correlation data; the
 * run reports answered / errors / lost and latency percentiles, with a progress line.
 *
 * Data: a CSV file (each message is the header and a sliding window of `window` rows, sent
 * as text/csv: the service forecasts from the newest rows) or a folder of images (one image
 * per message, image/* by extension, for a classifier).
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import mqtt, { type MqttClient } from 'mqtt';
import { MscrError } from '../connectors/errors.ts';
import { positiveInt, positiveNumber } from './options.ts';

export interface SimulateOptions {
  mqttUrl: string;
  model: string;
  /** Messages per second, per device. */
  rate: number;
  devices: number;
  /** A CSV file or a folder of images. */
  data: string;
  /** Seconds of sending. */
  durationS: number;
  /** Rows per CSV message. */
  window: number;
  /** Seconds to wait for the last answers after sending stops. */
  timeoutS: number;
  /** Request topic template (`{model}` replaced), as the service's MQTT_TOPIC. */
  topic: string;
  onProgress?: (line: string) => void;
}

export interface SimulateReport {
  sent: number;
  answered: number;
  errors: number;
  lost: number;
  seconds: number;
  answeredPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  versions: Record<string, number>;
}

interface Payload {
  body: Buffer;
  contentType: string;
}

const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

/** The messages a device cycles through, read once. */
export function loadPayloads(data: string, window: number): Payload[] {
  let stat;
  try {
    stat = statSync(data);
  } catch {
    throw new MscrError(
      'bad_request',
      `--data ${data} does not exist: give a CSV file or a folder of images`,
    );
  }
  if (stat.isDirectory()) {
    const files = readdirSync(data, { recursive: true, encoding: 'utf8' })
      .filter((f) => IMAGE_TYPES[path.extname(f).toLowerCase()] !== undefined)
      .sort()
      .slice(0, 10_000);
    if (files.length === 0)
      throw new MscrError('bad_request', `--data ${data} has no .png, .jpg, .webp or .gif images`);
    return files.map((f) => ({
      body: readFileSync(path.join(data, f)),
      contentType: IMAGE_TYPES[path.extname(f).toLowerCase()] as string,
    }));
  }
  const lines = readFileSync(data, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  const [header, ...rows] = lines;
  if (header === undefined || rows.length < window) {
    throw new MscrError(
      'bad_request',
      `--data ${data} needs a header row and at least ${window} data rows (the --window), found ${rows.length}`,
    );
  }
  const payloads: Payload[] = [];
  for (let end = window; end <= rows.length && payloads.length < 10_000; end++) {
    payloads.push({
      body: Buffer.from(`${header}\n${rows.slice(end - window, end).join('\n')}\n`),
      contentType: 'text/csv',
    });
  }
  return payloads;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export async function simulate(options: SimulateOptions): Promise<SimulateReport> {
  const payloads = loadPayloads(options.data, options.window);
  const run = randomUUID().slice(0, 8);
  const topic = options.topic.split('{model}').join(options.model);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const versions: Record<string, number> = {};
  let sent = 0;
  let errors = 0;
  const clients: MqttClient[] = [];
  const started = performance.now();
  try {
    for (let d = 0; d < options.devices; d++) {
      const client = await mqtt.connectAsync(options.mqttUrl, {
        protocolVersion: 5,
        clientId: `mscr-sim-${run}-${d}`,
        clean: true,
        reconnectPeriod: 500,
        connectTimeout: 10_000,
      });
      client.on('error', () => undefined);
      const replies = `mscr/sim/${run}/${d}`;
      client.on('message', (_topic, _payload, packet) => {
        const key = packet.properties?.correlationData?.toString();
        const at = key === undefined ? undefined : sentAt.get(key);
        if (key === undefined || at === undefined) return;
        sentAt.delete(key);
        const user = (packet.properties?.userProperties ?? {}) as Record<string, string>;
        if (user['mscr-status'] !== '200') errors++;
        else {
          latencies.push(performance.now() - at);
          const v = user['mscr-model-version'] ?? '?';
          versions[v] = (versions[v] ?? 0) + 1;
        }
      });
      await client.subscribeAsync(replies, { qos: 1 });
      clients.push(client);
    }
    const progress = setInterval(() => {
      options.onProgress?.(
        `sent ${sent} | answered ${latencies.length} | errors ${errors} | waiting ${sentAt.size}`,
      );
    }, 1000);
    const endAt = started + options.durationS * 1000;
    const interval = 1000 / options.rate;
    await Promise.all(
      clients.map(async (client, d) => {
        let next = performance.now() + (interval * d) / options.devices;
        for (let i = d; performance.now() < endAt; i++) {
          const wait = next - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          next += interval;
          const payload = payloads[i % payloads.length] as Payload;
          const key = `${d}:${i}`;
          sentAt.set(key, performance.now());
          sent++;
          client.publish(topic, payload.body, {
            qos: 1,
            properties: {
              contentType: payload.contentType,
              responseTopic: `mscr/sim/${run}/${d}`,
              correlationData: Buffer.from(key),
            },
          });
        }
      }),
    );
    const deadline = performance.now() + options.timeoutS * 1000;
    while (sentAt.size > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    clearInterval(progress);
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  }
  const seconds = (performance.now() - started) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    sent,
    answered: latencies.length,
    errors,
    lost: sentAt.size,
    seconds: round(seconds),
    answeredPerSecond: round(latencies.length / seconds),
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p95: round(percentile(sorted, 95)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted.at(-1) ?? 0),
    },
    versions,
  };
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description(
      'simulate devices streaming a CSV or images to a model over MQTT; reports answered, lost and latency percentiles',
    )
    .requiredOption('--mqtt-url <url>', 'the broker the service reads (mqtt://host:1883)')
    .requiredOption('--model <name>', 'the model to ask')
    .requiredOption('--data <path>', 'a CSV file (sliding windows, text/csv) or a folder of images')
    .option('--rate <n>', 'messages per second per device', positiveNumber, 10)
    .option('--devices <n>', 'devices (one MQTT client each)', positiveInt, 1)
    .option('--duration <seconds>', 'how long to send', positiveNumber, 10)
    .option('--window <rows>', 'CSV rows per message (at least the model window)', positiveInt, 30)
    .option('--timeout <seconds>', 'wait for the last answers', positiveNumber, 10)
    .option('--topic <template>', 'request topic, {model} replaced', 'mscr/{model}/infer')
    .option('--json', 'print the report as JSON')
    .action(
      async (flags: {
        mqttUrl: string;
        model: string;
        data: string;
        rate: number;
        devices: number;
        duration: number;
        window: number;
        timeout: number;
        topic: string;
        json?: boolean;
      }) => {
        const report = await simulate({
          mqttUrl: flags.mqttUrl,
          model: flags.model,
          data: flags.data,
          rate: flags.rate,
          devices: flags.devices,
          durationS: flags.duration,
          window: flags.window,
          timeoutS: flags.timeout,
          topic: flags.topic,
          onProgress: (line) => process.stderr.write(`${line}\n`),
        });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        } else {
          const l = report.latencyMs;
          process.stdout.write(
            `sent ${report.sent}, answered ${report.answered}, errors ${report.errors}, lost ${report.lost} in ${report.seconds} s (${report.answeredPerSecond}/s)\n` +
              `latency ms: p50 ${l.p50}, p95 ${l.p95}, p99 ${l.p99}, max ${l.max}\n` +
              `versions: ${Object.entries(report.versions)
                .map(([v, n]) => `${v}: ${n}`)
                .join(', ')}\n`,
          );
        }
        if (report.lost > 0) process.exitCode = 1;
      },
    );
}
