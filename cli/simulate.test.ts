/**
 * `mscr simulate` against a real mosquitto and a real Service (a toy forecaster): every
 * message sent is answered, none lost, latency percentiles reported; and bad data is a
 * message saying what to give.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { tempStore, type TempStore } from '../service/reload/test-support.ts';
import {
  publishToyForecaster,
  publishToyImageClassifier,
  startService,
  waitUntil,
} from '../service/test-support.ts';
import type { Service } from '../service/server.ts';
import {
  missingBroker,
  startMosquitto,
  type TestMosquitto,
} from '../service/brokers/test-support.ts';
import { loadPayloads, simulate } from './simulate.ts';

const skip = missingBroker('mosquitto') ?? false;

describe('mscr simulate on a real mosquitto', { skip, timeout: 300_000 }, () => {
  let broker: TestMosquitto;
  let temp: TempStore;
  let service: Service;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mscr-sim-'));
    broker = await startMosquitto();
    temp = await tempStore();
    await publishToyForecaster(temp.store, 'fc');
    await publishToyImageClassifier(temp.store, 'img');
    ({ service } = await startService(temp.dir, {
      mqttUrl: broker.url,
      mqttClientId: 'mscr-sim-test',
    }));
    await service.brokers.mqtt?.connected();
    await waitUntil(() => service.dataPlane.ready(), 'the models to load');
  });
  after(async () => {
    await service?.stop();
    await broker?.close();
    await temp?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('devices stream CSV windows: all answered, none lost', async () => {
    const csv = path.join(dir, 'prices.csv');
    const rows = Array.from({ length: 40 }, (_, i) => `${100 + i},${101 + i}`);
    writeFileSync(csv, `Open,Close\n${rows.join('\n')}\n`);
    const progress: string[] = [];
    const report = await simulate({
      mqttUrl: broker.url,
      model: 'fc',
      data: csv,
      rate: 20,
      devices: 3,
      durationS: 1.5,
      window: 5,
      timeoutS: 20,
      topic: 'mscr/{model}/infer',
      onProgress: (line) => progress.push(line),
    });
    assert.ok(report.sent >= 3, `sent ${report.sent}`);
    assert.equal(report.lost, 0);
    assert.equal(report.errors, 0);
    assert.equal(report.answered, report.sent);
    assert.deepEqual(report.versions, { '1': report.sent });
    assert.ok(report.latencyMs.p50 > 0 && report.latencyMs.p50 <= report.latencyMs.p99);
    assert.ok(progress.some((line) => /^sent \d+ \| answered \d+/.test(line)));
  });

  test('a folder of images, and errors counted apart from lost', async () => {
    const images = path.join(dir, 'images');
    mkdirSync(images);
    const png = await sharp({
      create: { width: 8, height: 8, channels: 3, background: { r: 1, g: 2, b: 3 } },
    })
      .png()
      .toBuffer();
    writeFileSync(path.join(images, 'a.png'), png);
    writeFileSync(path.join(images, 'broken.png'), 'not an image');
    const report = await simulate({
      mqttUrl: broker.url,
      model: 'img',
      data: images,
      rate: 10,
      devices: 1,
      durationS: 1,
      window: 1,
      timeoutS: 20,
      topic: 'mscr/{model}/infer',
    });
    assert.equal(report.lost, 0);
    assert.ok(report.errors > 0, 'the broken image is answered with an error');
    assert.equal(report.answered + report.errors, report.sent);
  });

  test('bad data says what to give', () => {
    assert.throws(() => loadPayloads(path.join(dir, 'missing.csv'), 5), /does not exist/);
    const short = path.join(dir, 'short.csv');
    writeFileSync(short, 'Open,Close\n1,2\n');
    assert.throws(() => loadPayloads(short, 5), /at least 5 data rows/);
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    assert.throws(() => loadPayloads(empty, 5), /no .png/);
  });
});
