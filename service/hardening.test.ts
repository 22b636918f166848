/**
 * The smaller holes of issue 15 (item 9), each swept over its variants against a real
 * service on loopback (and a real local store): content encodings the server cannot decode,
 * extreme float inputs, absolute paths and long or hostile names in answers, alias lookups
 * of Object.prototype names, the page's headers, binary INT8 counted before it is expanded,
 * `models gc` with a crashed publisher's temp file, and the server's connection limits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { collectGarbage } from '../connectors/store/gc.ts';
import { TEMP_PREFIX } from '../connectors/store/local-store.ts';
import { tempStore, type TempStore } from './reload/test-support.ts';
import { redactPaths } from './http/error-response.ts';
import {
  postJson,
  publishToyClassifier,
  publishToyForecaster,
  startService,
  toyInfer,
  waitUntil,
} from './test-support.ts';
import type { Service } from './server.ts';

const WEB = fileURLToPath(new URL('../client/web/public', import.meta.url));

describe('hardening', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  before(async () => {
    temp = await tempStore();
    await publishToyClassifier(temp.store, 'toy', 0);
    await publishToyForecaster(temp.store, 'prices');
    await publishToyClassifier(temp.store, 'broken', 0);
    // A version whose weights do not match its manifest: the store does not offer it.
    const dir = path.join(temp.dir, 'broken', '1');
    const weights = (await fs.readdir(dir)).find((f) => f.endsWith('.bin'));
    assert.ok(weights);
    await fs.writeFile(path.join(dir, weights), Buffer.alloc(16));
    ({ service, url } = await startService(temp.dir, { maxElements: '4096' }, { webRoot: WEB }));
    await waitUntil(
      async () => (await postJson(`${url}/v2/models/toy/infer`, toyInfer(1))).status === 200,
      'toy serving',
    );
  });
  after(async () => {
    await service.stop();
    await temp.cleanup();
  });

  test('a Content-Encoding the server cannot decode is a 415; a corrupt gzip body a 400; gzip and identity work', async () => {
    const body = JSON.stringify(toyInfer(1));
    for (const encoding of [
      'br-bogus',
      'compress',
      'zstd',
      'x-unknown',
      'gzip, bogus',
      'deflate;q=1',
      '😀'.replace(/./gu, 'x'),
    ]) {
      const response = await fetch(`${url}/v2/models/toy/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        body,
      });
      assert.equal(response.status, 415, `Content-Encoding ${encoding}`);
      assert.match(((await response.json()) as { error: string }).error, /encoding/i);
    }
    const corrupt = await fetch(`${url}/v2/models/toy/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: 'not gzip at all',
    });
    assert.equal(corrupt.status, 400);
    // Found by the fuzz suite: one byte declared br answered 500.
    for (const [encoding, bytes] of [
      ['br', Buffer.from([78])],
      ['deflate', Buffer.from([78])],
      ['gzip', gzipSync(body).subarray(0, 12)],
    ] as const) {
      const bad = await fetch(`${url}/mscr/models/prices/forecast`, {
        method: 'POST',
        headers: { 'content-encoding': encoding },
        body: bytes,
      });
      assert.equal(bad.status, 400, `${encoding}: ${await bad.text()}`);
    }
    const gzip = await fetch(`${url}/v2/models/toy/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(body),
    });
    assert.equal(gzip.status, 200);
    const identity = await fetch(`${url}/v2/models/toy/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'identity' },
      body,
    });
    assert.equal(identity.status, 200);
  });

  test('extreme float inputs (±3.4e38, the float32 limits) never answer 500', async () => {
    for (const value of [3.4e38, -3.4e38, 3.4028234e38, -3.4028234e38, 1e38, 1.17e-38, -0]) {
      const v1 = await postJson(`${url}/v1/models/toy:predict`, {
        instances: [[value, value, value, value]],
      });
      assert.ok(v1.status < 500, `V1 ${value}: ${v1.status} ${JSON.stringify(v1.json)}`);
      const v2 = await postJson(`${url}/v2/models/toy/infer`, {
        inputs: [
          { name: 'features', shape: [1, 4], datatype: 'FP32', data: [value, value, value, value] },
        ],
      });
      assert.ok(v2.status < 500, `V2 ${value}: ${v2.status}`);
      const series = await postJson(`${url}/v1/models/prices:predict`, {
        instances: [
          [
            [value, value],
            [value, value],
            [value, value],
          ],
        ],
      });
      assert.ok(
        series.status < 500,
        `forecaster ${value}: ${series.status} ${JSON.stringify(series.json)}`,
      );
    }
    const metrics = await fetch(`${url}/metrics`);
    assert.equal(metrics.status, 200);
  });

  test('no absolute path of the store reaches an anonymous caller', async () => {
    const answers = [
      await (await fetch(`${url}/v1/models/broken`)).text(),
      await (await fetch(`${url}/v2/models/broken`)).text(),
      await (await fetch(`${url}/v2/models/broken/ready`)).text(),
      JSON.stringify((await postJson(`${url}/v2/models/broken/infer`, toyInfer(1))).json),
      JSON.stringify(
        (await postJson(`${url}/v1/models/broken:predict`, { instances: [[0, 0, 0, 0]] })).json,
      ),
    ];
    for (const answer of answers) {
      assert.ok(!answer.includes(temp.dir), `leaks the store path: ${answer.slice(0, 300)}`);
      assert.ok(!/\/tmp\//.test(answer), answer.slice(0, 300));
    }
    assert.equal(
      redactPaths(
        'reading file:///srv/models/x/1/model.json failed; see /var/lib/mscr/models/x (a "/etc/passwd")',
      ),
      'reading file://<path> failed; see <path> (a "<path>")',
    );
    assert.equal(
      redactPaths('expected [1, 4] and/or 3/4 of it'),
      'expected [1, 4] and/or 3/4 of it',
    );
  });

  test('a 404 names neither every model nor more than the start of a long name', async () => {
    for (const name of ['ghost', 'g'.repeat(200), `a${'-'.repeat(5000)}b`]) {
      for (const p of [`/v2/models/${name}`, `/v1/models/${name}`, `/v2/models/${name}/infer`]) {
        const response = await fetch(`${url}${p}`, {
          method: p.endsWith('infer') ? 'POST' : 'GET',
          ...(p.endsWith('infer') ? { body: '{}' } : {}),
        });
        const text = await response.text();
        assert.ok(
          response.status >= 400 && response.status < 500,
          `${p.slice(0, 40)}: ${response.status}`,
        );
        assert.ok(
          text.length < 400,
          `${text.length} bytes answer to a ${name.length}-character name`,
        );
        assert.ok(!/toy|prices/.test(text), `lists models: ${text}`);
      }
    }
    const path16k = await fetch(`${url}/v9/${'x'.repeat(16_000)}`);
    assert.ok((await path16k.text()).length < 400);
  });

  test('aliases named like Object.prototype properties are unknown labels, not 500s', async () => {
    for (const label of [
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      'valueOf',
      'prototype',
      '__defineGetter__',
    ]) {
      for (const [method, p] of [
        ['GET', `/v1/models/toy/labels/${label}`],
        ['POST', `/v1/models/toy/labels/${label}:predict`],
        ['GET', `/v2/models/toy/versions/${label}`],
      ] as const) {
        const response = await fetch(`${url}${p}`, {
          method,
          ...(method === 'POST' ? { body: JSON.stringify({ instances: [[0, 0, 0, 0]] }) } : {}),
        });
        assert.ok(
          response.status >= 400 && response.status < 500,
          `${method} ${p}: ${response.status}`,
        );
      }
    }
  });

  test('the page carries a CSP and X-Frame-Options; API answers are not sniffed or framed', async () => {
    // As a browser asks (API clients get KServe V1's {"status": "alive"} at `/`).
    const page = await fetch(`${url}/`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    for (const p of ['/app.js', '/v2', '/v2/models/ghost']) {
      const response = await fetch(`${url}${p}`);
      assert.equal(response.headers.get('x-frame-options'), 'DENY', p);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', p);
    }
  });

  test('binary INT8 data is counted against the shape and the limit before it is expanded', async () => {
    const send = (header: object, binary: Buffer) => {
      const json = Buffer.from(JSON.stringify(header));
      return fetch(`${url}/v2/models/toy/infer`, {
        method: 'POST',
        headers: {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(json.length),
        },
        body: Buffer.concat([json, binary]),
      });
    };
    const input = (size: number, shape: number[]) => ({
      inputs: [
        { name: 'features', shape, datatype: 'INT8', parameters: { binary_data_size: size } },
      ],
    });
    const cases: [number, number[], RegExp][] = [
      [60_000, [1, 4], /shape \[1, 4\] but binary_data_size 60000 holds 60000 INT8 elements/],
      [60_000, [15_000, 4], /60000 binary elements; the limit is 4096/],
      [5, [1, 4], /holds 5 INT8 elements/],
    ];
    for (const [size, shape, error] of cases) {
      const response = await send(input(size, shape), Buffer.alloc(size, 1));
      assert.equal(response.status, 400, `${size} bytes as ${JSON.stringify(shape)}`);
      assert.match(((await response.json()) as { error: string }).error, error);
    }
    const ok = await send(input(4, [1, 4]), Buffer.from([1, 2, 3, 4]));
    assert.ok(ok.status === 200 || ok.status === 400, `${ok.status}`);
  });
});

describe('server connection limits', () => {
  test('past maxConnections a connection is refused; a request slower than requestTimeout gets a 408', async () => {
    const temp = await tempStore();
    await publishToyClassifier(temp.store, 'toy', 0);
    const { service, url } = await startService(temp.dir, {
      maxConnections: '3',
      requestTimeout: '1',
    });
    const port = Number(new URL(url).port);
    const open: net.Socket[] = [];
    try {
      await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
      // A slow body: headers, then nothing more.
      const slow = net.connect(port, '127.0.0.1');
      open.push(slow);
      const answer = new Promise<string>((resolve) => {
        let text = '';
        slow.on('data', (chunk) => (text += chunk.toString()));
        slow.on('close', () => resolve(text));
      });
      slow.write(
        'POST /v2/models/toy/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"in',
      );
      assert.match(await answer, /^HTTP\/1\.1 408/);
      // Three idle sockets fill the server; a fourth is closed without an answer.
      for (let i = 0; i < 3; i++) {
        const socket = net.connect(port, '127.0.0.1');
        open.push(socket);
        await new Promise((resolve) => socket.once('connect', resolve));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      const extra = net.connect(port, '127.0.0.1');
      open.push(extra);
      const closed = await new Promise<string>((resolve) => {
        let text = '';
        extra.on('data', (chunk) => (text += chunk.toString()));
        extra.on('close', () => resolve(`closed:${text}`));
        extra.on('error', () => resolve('error'));
        extra.write('GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      assert.ok(closed === 'closed:' || closed === 'error', closed.slice(0, 80));
    } finally {
      for (const socket of open) socket.destroy();
      await service.stop();
      await temp.cleanup();
    }
  });
});

describe('models gc and a crashed publisher', () => {
  test('an abandoned version with a stale temp file is really removed', async () => {
    const temp = await tempStore();
    try {
      await publishToyClassifier(temp.store, 'toy', 0);
      const folder = path.join(temp.dir, 'toy', '2');
      await fs.mkdir(folder);
      const claimedAt = new Date(Date.now() - 3 * 3600_000).toISOString();
      await fs.writeFile(path.join(folder, '.claim'), JSON.stringify({ claimedAt, by: 'x' }));
      const tempFile = path.join(folder, `${TEMP_PREFIX}12345-abcdef`);
      await fs.writeFile(tempFile, 'half a weights file');
      const old = new Date(Date.now() - 3 * 3600_000);
      await fs.utimes(tempFile, old, old);
      const entries = await collectGarbage(temp.store, { olderThanMs: 3600_000 });
      assert.ok(
        entries.some((e) => e.version === 2 && e.action === 'removed'),
        JSON.stringify(entries),
      );
      await assert.rejects(fs.stat(folder), /ENOENT/);
      const again = await collectGarbage(temp.store, { olderThanMs: 3600_000 });
      assert.ok(!again.some((e) => e.version === 2), 'nothing left to report');
    } finally {
      await temp.cleanup();
    }
  });
});
