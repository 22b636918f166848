/**
 * Keep it fixed (issue 15): a property-based fuzz suite over every route of a real running
 * service (real store, real TF.js models in worker threads, the web page), in this test's own
 * process, so a crash of the service is a crash of the test. fast-check generates path
 * parameters (model names, versions, labels: valid, hostile, huge, encoded), headers
 * (content types, encodings, binary header lengths, tokens, request ids) and bodies (random
 * JSON, random bytes, mutations of valid V1, V2, feedback and retrain bodies, compressed
 * bodies), and every answer must be:
 *
 * - below 500, except the documented 503s (not ready, busy, store unavailable) and 501 (the
 *   retrain endpoints of a service without a launcher); an error is `{"error": "..."}` JSON;
 * - while good requests, sent all along in parallel, are all answered 200;
 * - with the process alive and its memory bounded at the end.
 *
 * Run counts are fixed (FUZZ_RUNS, default 400 requests; a seed is printed on failure by
 * fast-check so a counterexample can be replayed with FUZZ_SEED).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import sharp from 'sharp';
import { tempStore, type TempStore } from './reload/test-support.ts';
import {
  publishToyClassifier,
  publishToyForecaster,
  publishToyImageClassifier,
  startService,
  toyInfer,
  waitUntil,
} from './test-support.ts';
import type { Service } from './server.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const WEB = fileURLToPath(new URL('../client/web/public', import.meta.url));
const TOKEN = 'fuzz-admin-token-0123456789abcdef';
const MODELS = ['toy', 'prices', 'pets'];

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 80,
});

/** A path parameter: a served name, a hostile one, random text, or something huge. */
const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...MODELS) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '..',
      '.',
      '%2e%2e',
      '..%2F..%2Fetc',
      '__proto__',
      'constructor',
      'toString',
      'a'.repeat(70),
      'x'.repeat(5000),
      '%00',
      '%',
      '%zz',
      '',
      '1',
      '0',
      '-1',
      '999999999999999999999',
      'latest',
      'stable',
      '😀',
      'a b',
      'A',
    ),
  },
  { weight: 2, arbitrary: printable.map((s) => encodeURIComponent(s)) },
);

type Route = { method: string; path: (m: string, v: string) => string; body: fc.Arbitrary<Buffer> };

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const anyJson = fc.jsonValue({ maxDepth: 4 }).map(json);
const bytes = fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b));
const numbers = fc.array(
  fc.oneof(
    fc.double(),
    fc.constantFrom(3.4e38, -3.4e38, 1e308, -0, Number.MAX_SAFE_INTEGER),
    fc.integer(),
    fc.constant(null),
    fc.string({ maxLength: 4 }),
  ),
  { maxLength: 40 },
);
const shapes = fc.array(fc.oneof(fc.integer({ min: -2, max: 10 }), fc.constant(1e9)), {
  maxLength: 5,
});
const v2Body = fc
  .record({
    id: fc.option(printable),
    inputs: fc.array(
      fc.record({
        name: fc.constantFrom('features', 'window', 'image', 'x', ''),
        shape: shapes,
        datatype: fc.constantFrom('FP32', 'INT8', 'INT32', 'BYTES', 'BOOL', 'FP64', 'x'),
        data: numbers,
      }),
      { maxLength: 3 },
    ),
    parameters: fc.option(fc.dictionary(printable, fc.jsonValue({ maxDepth: 1 }))),
  })
  .map(json);
const v1Body = fc
  .oneof(
    fc.record({ instances: fc.array(numbers, { maxLength: 4 }) }),
    fc.record({ inputs: fc.oneof(numbers, fc.dictionary(printable, numbers)) }),
    fc.record({
      instances: fc.array(fc.record({ b64: fc.base64String({ maxLength: 200 }) }), {
        maxLength: 20,
      }),
    }),
    fc.record({ signature_name: printable, instances: fc.array(numbers) }),
  )
  .map(json);
const feedbackBody = fc
  .record(
    {
      predictionId: fc.oneof(printable, fc.uuid()),
      label: fc.oneof(
        fc.constantFrom('low', 'high', 'cat', 'dog'),
        fc.integer({ min: -2, max: 5 }),
        printable,
      ),
      actual: fc.oneof(fc.double(), fc.integer()),
      input: fc.oneof(
        fc.record({ data: numbers, shape: shapes }),
        fc.record({ image_b64: fc.oneof(fc.base64String({ maxLength: 300 }), printable) }),
        anyJsonValue(),
      ),
    },
    { requiredKeys: [] },
  )
  .map(json);
const csv = fc
  .array(
    fc.array(fc.oneof(fc.double().map(String), printable, fc.constant('')), { maxLength: 6 }),
    {
      maxLength: 12,
    },
  )
  .map((rows) => Buffer.from(rows.map((r) => r.join(',')).join('\n')));

function anyJsonValue() {
  return fc.jsonValue({ maxDepth: 2 });
}

/** Every route of the SC and SR connectors, and a few that are not routes. */
const ROUTES: Route[] = [
  { method: 'GET', path: () => '/v2', body: fc.constant(Buffer.alloc(0)) },
  { method: 'GET', path: () => '/v2/health/live', body: fc.constant(Buffer.alloc(0)) },
  { method: 'GET', path: () => '/v2/health/ready', body: fc.constant(Buffer.alloc(0)) },
  { method: 'GET', path: (m) => `/v2/models/${m}`, body: fc.constant(Buffer.alloc(0)) },
  {
    method: 'GET',
    path: (m, v) => `/v2/models/${m}/versions/${v}`,
    body: fc.constant(Buffer.alloc(0)),
  },
  { method: 'GET', path: (m) => `/v2/models/${m}/ready`, body: fc.constant(Buffer.alloc(0)) },
  { method: 'POST', path: (m) => `/v2/models/${m}/infer`, body: fc.oneof(v2Body, anyJson, bytes) },
  {
    method: 'POST',
    path: (m, v) => `/v2/models/${m}/versions/${v}/infer`,
    body: fc.oneof(v2Body, bytes),
  },
  { method: 'GET', path: () => '/v1/models', body: fc.constant(Buffer.alloc(0)) },
  { method: 'GET', path: (m) => `/v1/models/${m}`, body: fc.constant(Buffer.alloc(0)) },
  {
    method: 'GET',
    path: (m, v) => `/v1/models/${m}/versions/${v}`,
    body: fc.constant(Buffer.alloc(0)),
  },
  {
    method: 'GET',
    path: (m, v) => `/v1/models/${m}/labels/${v}`,
    body: fc.constant(Buffer.alloc(0)),
  },
  {
    method: 'POST',
    path: (m) => `/v1/models/${m}:predict`,
    body: fc.oneof(v1Body, anyJson, bytes),
  },
  {
    method: 'POST',
    path: (m, v) => `/v1/models/${m}/labels/${v}:predict`,
    body: fc.oneof(v1Body, anyJson),
  },
  { method: 'POST', path: (m) => `/mscr/models/${m}/classify`, body: bytes },
  { method: 'POST', path: (m) => `/mscr/models/${m}/forecast`, body: fc.oneof(csv, bytes) },
  {
    method: 'POST',
    path: (m) => `/mscr/models/${m}/feedback`,
    body: fc.oneof(feedbackBody, anyJson, bytes),
  },
  { method: 'GET', path: (m) => `/mscr/models/${m}/signals`, body: fc.constant(Buffer.alloc(0)) },
  { method: 'POST', path: (m) => `/mscr/models/${m}/retrain`, body: fc.oneof(anyJson, bytes) },
  {
    method: 'GET',
    path: (m) => `/mscr/models/${m}/runs?limit=${m}`,
    body: fc.constant(Buffer.alloc(0)),
  },
  { method: 'GET', path: () => '/metrics', body: fc.constant(Buffer.alloc(0)) },
  { method: 'GET', path: (m) => `/${m}`, body: fc.constant(Buffer.alloc(0)) },
];

const headers = fc.record(
  {
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'text/csv',
        'image/png',
        'application/octet-stream',
        'multipart/form-data; boundary=x',
        'multipart/form-data',
        'application/x-www-form-urlencoded',
      ),
      printable,
    ),
    'content-encoding': fc.constantFrom(
      'gzip',
      'deflate',
      'br',
      'identity',
      'zstd',
      'x',
      'gzip, gzip',
    ),
    'inference-header-content-length': fc.oneof(fc.nat({ max: 5000 }).map(String), printable),
    authorization: fc.oneof(
      fc.constant(`Bearer ${TOKEN}`),
      printable.map((s) => `Bearer ${s}`),
      printable,
    ),
    'x-request-id': printable,
    accept: printable,
  },
  { requiredKeys: [] },
);

/** Statuses a service may answer besides the 2xx and 4xx: documented ones only. */
function allowed(status: number, path: string): boolean {
  if (status < 500) return true;
  if (status === 503) return true; // not ready, draining, decoder busy, store unavailable
  if (status === 501 && /\/(retrain|runs)(\?|$)/.test(path)) return true; // no launcher here
  return false;
}

describe('fuzzing every route of a running service', { timeout: 240_000 }, () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  let good: Buffer;

  before(async () => {
    temp = await tempStore();
    await publishToyClassifier(temp.store, 'toy', 0);
    await publishToyForecaster(temp.store, 'prices');
    await publishToyImageClassifier(temp.store, 'pets');
    ({ service, url } = await startService(
      temp.dir,
      { adminToken: TOKEN, feedbackBurst: '100000', feedbackRate: '1000', maxBodyBytes: '262144' },
      { webRoot: WEB },
    ));
    await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
    good = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#c33' } })
      .png()
      .toBuffer();
  });
  after(async () => {
    await service.stop();
    await temp.cleanup();
  });

  test(`${RUNS} generated requests: no undocumented 5xx, good requests answered meanwhile, memory bounded`, async () => {
    const rssBefore = process.memoryUsage().rss;
    let fuzzing = true;
    const goodFailures: string[] = [];
    let goodAnswered = 0;
    // Good traffic in parallel all along: two clients, V2 infer and classify.
    const goodClients = [
      (async () => {
        while (fuzzing) {
          const r = await fetch(`${url}/v2/models/toy/infer`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(toyInfer(2)),
          });
          await r.arrayBuffer();
          if (r.status !== 200) goodFailures.push(`infer ${r.status}`);
          else goodAnswered++;
        }
      })(),
      (async () => {
        while (fuzzing) {
          const r = await fetch(`${url}/mscr/models/pets/classify`, { method: 'POST', body: good });
          await r.arrayBuffer();
          if (r.status !== 200) goodFailures.push(`classify ${r.status}`);
          else goodAnswered++;
        }
      })(),
    ];
    const seen = new Map<number, number>();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: ROUTES.length - 1 }).chain((i) =>
            fc.record({
              route: fc.constant(i),
              model: segment,
              version: segment,
              headers,
              body: (ROUTES[i] as Route).body,
              gzip: fc.boolean(),
              method: fc.oneof(
                { weight: 9, arbitrary: fc.constant(undefined) },
                { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'GET', 'POST') },
              ),
            }),
          ),
          async ({ route: index, model, version, headers: sent, body, gzip, method }) => {
            const route = ROUTES[index] as Route;
            const path = route.path(model, version);
            const verb = method ?? route.method;
            const payload =
              verb === 'GET' || verb === 'HEAD'
                ? undefined
                : gzip && sent['content-encoding'] === 'gzip'
                  ? gzipSync(body)
                  : body;
            let response: Response;
            try {
              response = await fetch(`${url}${path}`, {
                method: verb,
                headers: Object.fromEntries(
                  Object.entries(sent).filter(([, v]) => typeof v === 'string'),
                ) as Record<string, string>,
                ...(payload !== undefined ? { body: payload } : {}),
              });
            } catch (error) {
              // fetch itself refused what it was given (a URL or header it will not send):
              // nothing reached the service. Anything else is a dropped connection: a failure.
              if (error instanceof TypeError && !/fetch failed/.test(error.message)) return;
              throw error;
            }
            const text = await response.text();
            seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
            assert.ok(
              allowed(response.status, path),
              `${verb} ${path.slice(0, 120)} -> ${response.status} ${text.slice(0, 200)}`,
            );
            if (response.status >= 400 && !path.startsWith('/metrics')) {
              const parsed = JSON.parse(text) as { error?: unknown };
              assert.equal(typeof parsed.error, 'string', text.slice(0, 200));
            }
          },
        ),
        { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
      );
    } finally {
      fuzzing = false;
      await Promise.all(goodClients);
    }
    assert.deepEqual(goodFailures, [], 'every good request answered 200');
    assert.ok(goodAnswered > 0);
    // Alive, ready, and still serving.
    assert.equal((await fetch(`${url}/v2/health/live`)).status, 200);
    assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    assert.ok(rssGrowth < 512 * 1024 * 1024, `RSS grew ${Math.round(rssGrowth / 2 ** 20)} MiB`);
    // Several kinds of answer were produced (the generator reaches the handlers).
    assert.ok(seen.size >= 4, `statuses seen: ${JSON.stringify([...seen])}`);
  });
});
