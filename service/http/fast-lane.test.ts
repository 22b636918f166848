/**
 * The inference fast lane (fast-lane.ts): which requests it takes, that its answers are the
 * Express app's answers (a gzip body takes the Express path, the same body plain the fast
 * lane), and hostile bodies on it: too large by header or by stream, cut off mid-body, lying
 * about their binary header. After each, the service keeps answering.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { tempStore, type TempStore } from '../reload/test-support.ts';
import { publishToyClassifier, startService, toyInfer, waitUntil } from '../test-support.ts';
import type { Service } from '../server.ts';
import { fastLaneRoute } from './fast-lane.ts';

const MAX_BODY = 64 * 1024;

test('the fast lane takes plain POSTs to infer and predict, and leaves the rest to Express', () => {
  const takes = (method: string, url: string, encoding?: string) =>
    fastLaneRoute(method, url, encoding)?.route.kind;
  assert.equal(takes('POST', '/v2/models/toy/infer'), 'infer');
  assert.equal(takes('POST', '/v2/models/toy/versions/2/infer/'), 'infer');
  assert.equal(takes('POST', '/v2/models/toy/infer?x=1'), 'infer');
  assert.equal(takes('POST', '/v1/models/toy:predict'), 'predict');
  assert.equal(takes('POST', '/v1/models/toy/labels/stable:predict'), 'predict');
  assert.equal(takes('POST', '/v2/models/toy/infer', 'identity'), 'infer');
  // Express words these: another method (405), a compressed body, other routes, bad names.
  assert.equal(takes('GET', '/v2/models/toy/infer'), undefined);
  assert.equal(takes('PUT', '/v1/models/toy:predict'), undefined);
  assert.equal(takes('POST', '/v2/models/toy/infer', 'gzip'), undefined);
  assert.equal(takes('POST', '/v1/models/toy:classify'), undefined);
  assert.equal(takes('POST', '/v2/models/toy/ready'), undefined);
  assert.equal(takes('POST', '/v2/models/%ZZ/infer'), undefined);
  assert.equal(takes('POST', '/v1/models/toy/versions/x:predict'), undefined);
  assert.equal(takes('POST', 'http://example.com/v2/models/toy/infer'), undefined);
});

describe('the fast lane over HTTP', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;

  before(async () => {
    temp = await tempStore();
    await publishToyClassifier(temp.store, 'toy', 1);
    ({ service, url } = await startService(temp.dir, { maxBodyBytes: String(MAX_BODY) }));
    await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).ok, 'ready');
  });
  after(async () => {
    await service.stop();
    await temp.cleanup();
  });

  /** Posts `body` plain (fast lane) and gzipped (Express); both answers, ids taken out. */
  async function bothWays(path: string, body: string | Buffer, headers: Record<string, string>) {
    const answers = [];
    for (const gzip of [false, true]) {
      const response = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: {
          'x-request-id': 'same-both-ways',
          ...headers,
          ...(gzip ? { 'content-encoding': 'gzip' } : {}),
        },
        body: gzip ? gzipSync(body) : body,
      });
      const type = response.headers.get('content-type');
      const text = await response.text();
      answers.push({
        status: response.status,
        type,
        nosniff: response.headers.get('x-content-type-options'),
        requestId: response.headers.get('x-request-id') !== null,
        body: text.replace(/"prediction_ids":"[^"]*"/, '"prediction_ids":"-"'),
      });
    }
    return answers;
  }

  test('plain and compressed bodies get the same answers, good and bad', async () => {
    const json = { 'content-type': 'application/json' };
    const good = JSON.stringify(toyInfer(2));
    const cases: [string, string, Record<string, string>][] = [
      ['/v2/models/toy/infer', good, json],
      ['/v2/models/toy/versions/1/infer', good, json],
      ['/v1/models/toy:predict', JSON.stringify({ instances: [[1, 2, 3, 4]] }), json],
      ['/v1/models/toy:predict', '{"instances": [[1, 2, 3, NaN]]}', json],
      ['/v2/models/toy/infer', '{"inputs": [', json],
      ['/v2/models/toy/infer', '', json],
      ['/v2/models/toy/infer', JSON.stringify({ inputs: [{ name: 'features' }] }), json],
      ['/v2/models/nope/infer', good, json],
      ['/v2/models/toy/versions/9/infer', good, json],
      ['/v1/models/toy:predict', '{"instances": "no"}', json],
      ['/v2/models/toy/infer', good, { ...json, 'inference-header-content-length': '999999' }],
      ['/v2/models/toy/infer', good, { ...json, 'inference-header-content-length': '-1' }],
    ];
    for (const [path, body, headers] of cases) {
      const [fast, express] = await bothWays(path, body, headers);
      assert.deepEqual(fast, express, `${path} ${body.slice(0, 40)}`);
      assert.ok(fast?.requestId && fast.nosniff === 'nosniff');
      if (fast && fast.status >= 400) assert.equal(fast.type, 'application/json');
    }
  });

  test('binary tensors in and out, with the binary header length', async () => {
    const raw = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          {
            name: 'features',
            shape: [1, 4],
            datatype: 'FP32',
            parameters: { binary_data_size: 16 },
          },
        ],
        parameters: { binary_data_output: true },
      }),
    );
    const [fast, express] = await bothWays('/v2/models/toy/infer', Buffer.concat([header, raw]), {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    });
    assert.equal(fast?.status, 200);
    assert.equal(fast?.type, 'application/octet-stream');
    assert.deepEqual(fast, express);
  });

  test('a body too large by its Content-Length is a 413 before it is read, and the connection closes', async () => {
    const response = await fetch(`${url}/v2/models/toy/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(MAX_BODY + 1, 0x20),
    });
    assert.equal(response.status, 413);
    assert.equal(response.headers.get('connection'), 'close');
    assert.match(((await response.json()) as { error: string }).error, /larger than the limit/);
  });

  /** Raw HTTP/1.1 on a socket: what the server wrote before it closed (or `waitMs` passed). */
  function rawRequest(head: string, body: Buffer[], waitMs = 3000): Promise<string> {
    const { port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let answer = '';
      const timer = setTimeout(() => socket.destroy(), waitMs);
      socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(answer);
      });
      socket.write(head);
      for (const part of body) socket.write(part);
    });
  }

  test('a chunked body that grows past the limit is a 413 at the limit', async () => {
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    const chunks = [];
    for (let i = 0; i < 6; i++)
      chunks.push(
        Buffer.concat([
          Buffer.from(`${chunk.length.toString(16)}\r\n`),
          chunk,
          Buffer.from('\r\n'),
        ]),
      );
    const answer = await rawRequest(
      'POST /v2/models/toy/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      chunks,
    );
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /larger than the limit of 65536 bytes/);
  });

  test('a client that goes away mid-body leaves nothing in flight, and the service keeps serving', async () => {
    const { port } = new URL(url);
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(
            'POST /v2/models/toy/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"inputs": [',
          );
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 5);
        });
      });
    }
    await waitUntil(
      async () =>
        /mscr_requests_in_flight\{protocol="v2"\} 0\n/.test(
          await (await fetch(`${url}/metrics`)).text(),
        ),
      'no request in flight',
    );
    const response = await fetch(`${url}/v2/models/toy/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(toyInfer()),
    });
    assert.equal(response.status, 200);
  });

  test('fast-lane requests are counted with the version that answered', async () => {
    const before = await (await fetch(`${url}/metrics`)).text();
    const count = (text: string) =>
      Number(
        /mscr_requests_total\{model="toy",version="1",protocol="v2",status="200"\} (\d+)/.exec(
          text,
        )?.[1] ?? 0,
      );
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${url}/v2/models/toy/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(toyInfer()),
      });
      assert.equal(response.status, 200);
    }
    await waitUntil(
      async () => count(await (await fetch(`${url}/metrics`)).text()) === count(before) + 3,
      'three more requests counted',
    );
  });
});
