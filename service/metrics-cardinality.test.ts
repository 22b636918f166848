/**
 * Metrics cardinality is bounded (issue 15, item 6), against a real service on loopback:
 * requests naming models the service does not know are counted under `model="unknown"`,
 * whatever the path, protocol or method, so thousands of made-up names add no series.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelCap } from './observability/metrics.ts';
import { tempStore, type TempStore } from './reload/test-support.ts';
import {
  postJson,
  publishToyClassifier,
  startService,
  toyInfer,
  waitUntil,
} from './test-support.ts';
import type { Service } from './server.ts';

function series(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`));
}

describe('metrics cardinality', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  before(async () => {
    temp = await tempStore();
    await publishToyClassifier(temp.store, 'toy', 0);
    ({ service, url } = await startService(temp.dir));
    await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
  });
  after(async () => {
    await service.stop();
    await temp.cleanup();
  });

  test('2,000 requests for made-up models over every route add a bounded number of series, all model="unknown"', async () => {
    assert.equal((await postJson(`${url}/v2/models/toy/infer`, toyInfer(1))).status, 200);
    const before = await (await fetch(`${url}/metrics`)).text();
    const routes = [
      (m: string) => ({ path: `/v2/models/${m}/infer`, method: 'POST' }),
      (m: string) => ({ path: `/v2/models/${m}`, method: 'GET' }),
      (m: string) => ({ path: `/v2/models/${m}/versions/7/ready`, method: 'GET' }),
      (m: string) => ({ path: `/v1/models/${m}:predict`, method: 'POST' }),
      (m: string) => ({ path: `/v1/models/${m}/labels/x`, method: 'GET' }),
      (m: string) => ({ path: `/mscr/models/${m}/classify`, method: 'POST' }),
      (m: string) => ({ path: `/mscr/models/${m}/forecast`, method: 'POST' }),
      (m: string) => ({ path: `/mscr/models/${m}/feedback`, method: 'POST' }),
      (m: string) => ({ path: `/mscr/models/${m}/signals`, method: 'GET' }),
      (m: string) => ({ path: `/mscr/models/${m}/runs`, method: 'GET' }),
    ];
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const n = batch * 100 + i;
          const route = routes[n % routes.length] as (typeof routes)[number];
          const { path, method } = route(`ghost-${n}-${'x'.repeat(n % 50)}`);
          const response = await fetch(`${url}${path}`, {
            method,
            ...(method === 'POST'
              ? { body: '{}', headers: { 'content-type': 'application/json' } }
              : {}),
          });
          await response.arrayBuffer();
          assert.ok(response.status >= 400 && response.status < 500, `${path}: ${response.status}`);
        }),
      );
    }
    const after = await (await fetch(`${url}/metrics`)).text();
    assert.ok(!/ghost-/.test(after), 'no made-up model name reaches /metrics');
    const added =
      series(after, 'mscr_requests_total').length - series(before, 'mscr_requests_total').length;
    // unknown x (protocols v1, v2, image, csv, sr) x (statuses 400, 404, 405, 415): a handful.
    assert.ok(added <= 20, `${added} new mscr_requests_total series`);
    assert.match(
      after,
      /mscr_requests_total\{model="unknown",version="",protocol="v2",status="404"\} \d+/,
    );
    assert.ok(
      after.length < before.length + 20_000,
      `/metrics grew ${after.length - before.length} bytes`,
    );
    // The known model keeps its own label.
    assert.match(
      after,
      /mscr_requests_total\{model="toy",version="1",protocol="v2",status="200"\} 1/,
    );
  });
});

describe('LabelCap', () => {
  test('keeps the first N values, every later one is the overflow value', () => {
    const cap = new LabelCap(3);
    assert.deepEqual(
      ['a', 'b', 'a', 'c', 'd', 'e', 'b'].map((v) => cap.of(v)),
      ['a', 'b', 'a', 'c', 'other', 'other', 'b'],
    );
  });
});
