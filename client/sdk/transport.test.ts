/**
 * The SDK's wire behaviour against real HTTP servers on loopback that misbehave on purpose:
 * 503 twice then 200 (retried), 400 (never retried), a server that never answers (timeout),
 * a closed port (connection refused), a connection dropped after the request (retried only
 * when the request is idempotent). No mocks: each server is a real `node:http` server.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, isMscrClientError, retryDelay, type MscrClient } from '../index.ts';
import { MscrError } from '../../connectors/errors.ts';
import { closedPort, rejection } from '../../tests/loopback.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A real HTTP server on a free loopback port; `handler` answers request number n (1-based). */
async function loopbackServer(
  handler: (n: number, req: IncomingMessage, res: ServerResponse, body: Buffer) => void,
): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(seen.length, req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const fast = { retryDelayMs: 5, maxRetryDelayMs: 20 };

describe('retries', () => {
  test('503 twice, then 200: the call succeeds on the third attempt', async () => {
    const server = await loopbackServer((n, _req, res) =>
      n <= 2
        ? json(res, 503, { error: 'model cifar10 is loading' })
        : json(res, 200, { models: ['cifar10'] }),
    );
    try {
      const client = createClient({ baseUrl: server.url, retries: 2, ...fast });
      assert.deepEqual(await client.listModels(), ['cifar10']);
      assert.equal(server.seen.length, 3);
      assert.ok(server.seen.every((s) => s.url === '/v1/models' && s.method === 'GET'));
    } finally {
      await server.close();
    }
  });

  test('a 503 on a non-idempotent POST (feedback) is retried too: the server did not process it', async () => {
    const server = await loopbackServer((n, _req, res) =>
      n === 1
        ? json(res, 503, { error: 'draining' })
        : json(res, 201, { id: 'fb-1', model: 'm', label: 'cat', correct: true }),
    );
    try {
      const client = createClient({ baseUrl: server.url, ...fast });
      const answer = await client.feedback('m', { predictionId: 'p-1', label: 'cat' });
      assert.equal(answer.id, 'fb-1');
      assert.equal(server.seen.length, 2);
      assert.deepEqual(JSON.parse(server.seen[1]?.body.toString() ?? ''), {
        predictionId: 'p-1',
        label: 'cat',
      });
    } finally {
      await server.close();
    }
  });

  test('503 every time: the error says how many attempts were made', async () => {
    const server = await loopbackServer((_n, _req, res) =>
      json(res, 503, { error: 'no version of m is available' }),
    );
    try {
      const client = createClient({ baseUrl: server.url, retries: 3, ...fast });
      const error = await rejection(client.modelMetadata('m'));
      assert.ok(isMscrClientError(error));
      assert.equal(error.kind, 'http');
      assert.equal(error.httpStatus, 503);
      assert.equal(error.code, 'unavailable');
      assert.equal(error.attempts, 4);
      assert.equal(error.serverMessage, 'no version of m is available');
      assert.match(error.message, /after 4 attempts/);
      assert.equal(server.seen.length, 4);
    } finally {
      await server.close();
    }
  });

  test("400 is never retried; the error carries the server's message and maps to bad_request", async () => {
    const server = await loopbackServer((_n, _req, res) =>
      json(res, 400, { error: 'cannot decode image: unsupported image format' }),
    );
    try {
      const client = createClient({ baseUrl: server.url, retries: 5, ...fast });
      const error = await rejection(client.classify('m', new Uint8Array([1, 2, 3])));
      assert.ok(isMscrClientError(error));
      assert.ok(error instanceof MscrError, 'an MscrError, so the CLI maps it to an exit code');
      assert.equal(error.httpStatus, 400);
      assert.equal(error.code, 'bad_request');
      assert.equal(error.serverMessage, 'cannot decode image: unsupported image format');
      assert.match(error.message, /400.*cannot decode image/);
      assert.equal(error.attempts, 1);
      assert.equal(server.seen.length, 1);
    } finally {
      await server.close();
    }
  });

  test('404, 409, 401 and 500 are not retried and map to mscr error codes', async () => {
    const statuses = [404, 409, 401, 500];
    const server = await loopbackServer((n, _req, res) =>
      json(res, statuses[n - 1] ?? 500, { error: `status ${statuses[n - 1]}` }),
    );
    try {
      const client = createClient({ baseUrl: server.url, retries: 3, ...fast });
      const codes = [];
      for (let i = 0; i < statuses.length; i++) {
        const error = await rejection(client.signals('m'));
        assert.ok(isMscrClientError(error));
        codes.push([error.httpStatus, error.code]);
      }
      assert.deepEqual(codes, [
        [404, 'not_found'],
        [409, 'conflict'],
        [401, 'config'],
        [500, 'internal'],
      ]);
      assert.equal(server.seen.length, 4);
    } finally {
      await server.close();
    }
  });

  test("the server's Retry-After is honoured (up to maxRetryDelayMs)", async () => {
    const server = await loopbackServer((n, _req, res) =>
      n === 1
        ? json(res, 503, { error: 'busy' }, { 'retry-after': '1' })
        : json(res, 200, { live: true }),
    );
    try {
      const client = createClient({
        baseUrl: server.url,
        retryDelayMs: 1,
        maxRetryDelayMs: 300,
      });
      const started = Date.now();
      // live() accepts 503 as an answer; metadata does not, so use it to see the wait.
      await client.serverMetadata().catch(() => undefined);
      const waited = Date.now() - started;
      assert.ok(waited >= 250, `waited ${waited} ms; Retry-After 1 s capped at 300 ms`);
    } finally {
      await server.close();
    }
  });

  test('backoff grows exponentially with jitter in [0.5, 1) and stops at the cap', () => {
    const settings = { retryDelayMs: 100, maxRetryDelayMs: 1000 };
    const low = (retry: number) => retryDelay(retry, { ...settings, random: () => 0 });
    const high = (retry: number) => retryDelay(retry, { ...settings, random: () => 0.999 });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(low), [50, 100, 200, 400, 500, 500]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(high), [100, 200, 400, 800, 1000, 1000]);
    assert.equal(retryDelay(1, { ...settings, random: () => 0 }, '2'), 1000);
  });
});

describe('connection errors and timeouts', () => {
  test('service down: a GET is retried, then fails as unavailable with a readable message', async () => {
    const port = await closedPort();
    const client = createClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 2, ...fast });
    const error = await rejection(client.listModels());
    assert.ok(isMscrClientError(error));
    assert.equal(error.kind, 'network');
    assert.equal(error.code, 'unavailable');
    assert.equal(error.httpStatus, 0);
    assert.equal(error.attempts, 3);
    assert.match(
      error.message,
      new RegExp(`cannot reach the service at http://127.0.0.1:${port} \\(connection refused\\)`),
    );
  });

  test('a refused connection is retried even for a non-idempotent POST (nothing was sent)', async () => {
    const port = await closedPort();
    const client = createClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 2, ...fast });
    const error = await rejection(client.retrain('m', { token: 't' }));
    assert.ok(isMscrClientError(error));
    assert.equal(error.attempts, 3);
  });

  test('a connection dropped after the request: classify is retried, feedback and retrain are not', async () => {
    const server = await loopbackServer((_n, req) => req.socket.destroy());
    try {
      const client = createClient({ baseUrl: server.url, retries: 2, ...fast });
      const classify = await rejection(client.classify('m', new Uint8Array([1])));
      assert.ok(isMscrClientError(classify));
      assert.equal(classify.kind, 'network');
      assert.equal(server.seen.length, 3, 'classify: 1 attempt + 2 retries');

      const feedback = await rejection(client.feedback('m', { predictionId: 'p', label: 'x' }));
      assert.ok(isMscrClientError(feedback));
      assert.equal(feedback.attempts, 1);
      const retrain = await rejection(client.retrain('m', { token: 't' }));
      assert.ok(isMscrClientError(retrain));
      assert.equal(retrain.attempts, 1);
      assert.equal(server.seen.length, 5, 'feedback and retrain: one attempt each');
    } finally {
      await server.close();
    }
  });

  test('a server that never answers: timeout after timeoutMs, not retried', async () => {
    const server = await loopbackServer(() => {
      // never answer
    });
    try {
      const client = createClient({ baseUrl: server.url, timeoutMs: 300, retries: 3, ...fast });
      const started = Date.now();
      const error = await rejection(client.serverMetadata());
      const took = Date.now() - started;
      assert.ok(isMscrClientError(error));
      assert.equal(error.kind, 'timeout');
      assert.equal(error.code, 'unavailable');
      assert.match(error.message, /within 300 ms/);
      assert.ok(took >= 280 && took < 3000, `took ${took} ms`);
      assert.equal(server.seen.length, 1);
    } finally {
      await server.close();
    }
  });

  test('the per-call timeout overrides the client one', async () => {
    const server = await loopbackServer(() => undefined);
    try {
      const client = createClient({ baseUrl: server.url, timeoutMs: 60_000 });
      const error = await rejection(client.live({ timeoutMs: 150 }));
      assert.ok(isMscrClientError(error));
      assert.equal(error.kind, 'timeout');
    } finally {
      await server.close();
    }
  });

  test("the caller's AbortSignal cancels a call, also during a backoff wait", async () => {
    const server = await loopbackServer((_n, _req, res) => json(res, 503, { error: 'busy' }));
    try {
      const client = createClient({ baseUrl: server.url, retries: 5, retryDelayMs: 5_000 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const started = Date.now();
      const error = await rejection(client.listModels({ signal: controller.signal }));
      assert.ok(isMscrClientError(error));
      assert.equal(error.kind, 'aborted');
      assert.ok(Date.now() - started < 2_000);
      assert.equal(server.seen.length, 1);
    } finally {
      await server.close();
    }
  });
});

describe('requests and answers', () => {
  let server: Awaited<ReturnType<typeof loopbackServer>>;
  let client: MscrClient;
  before(async () => {
    server = await loopbackServer((_n, req, res, body) => {
      const url = req.url ?? '';
      if (url === '/v2/health/ready') return json(res, 503, { ready: false });
      if (url === '/v2/health/live') return json(res, 200, { live: true });
      if (url.startsWith('/mscr/models/shapes/versions/stable/classify'))
        return json(res, 200, {
          model: 'shapes',
          version: 2,
          predictions: [[{ label: 'circle', score: 0.9 }]],
          predictionIds: ['p-1'],
        });
      if (url.startsWith('/mscr/models/prices/forecast'))
        return json(res, 200, {
          model: 'prices',
          version: 1,
          target: 'Close',
          forecast: [body.toString().split('\n').length],
          predictionIds: ['p-2'],
        });
      if (url === '/mscr/models/m/retrain')
        return req.headers.authorization === 'Bearer s3cret'
          ? json(res, 202, { model: 'm', runId: 'r-1', state: 'started' })
          : json(res, 401, { error: 'a valid admin token is required' });
      if (url === '/mscr/models/m/runs?limit=2') return json(res, 200, { runs: [{ id: 'r-1' }] });
      if (url === '/not-json/v2') {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html>proxy</html>');
      }
      json(res, 404, { error: `no route ${url}` });
    });
    client = createClient({ baseUrl: `${server.url}/`, ...fast });
  });
  after(() => server.close());

  test('health: 503 from /v2/health/ready is "not ready", not an error, and not retried', async () => {
    const before = server.seen.length;
    assert.equal(await client.ready(), false);
    assert.equal(await client.live(), true);
    assert.equal(server.seen.length - before, 2);
  });

  test('classify posts the bytes with the Blob type to the alias path with ?top', async () => {
    const blob = new Blob([new Uint8Array([0xff, 0xd8, 0xff])], { type: 'image/jpeg' });
    const answer = await client.classify('shapes', blob, { version: 'stable', top: 3 });
    assert.equal(answer.predictions[0]?.[0]?.label, 'circle');
    assert.deepEqual(answer.predictionIds, ['p-1']);
    const seen = server.seen.at(-1) as Seen;
    assert.equal(seen.url, '/mscr/models/shapes/versions/stable/classify?top=3');
    assert.equal(seen.headers['content-type'], 'image/jpeg');
    assert.deepEqual([...seen.body], [0xff, 0xd8, 0xff]);
  });

  test('forecast posts text/csv with the order', async () => {
    await client.forecast('prices', 'a\nb\nc', { order: 'newest-first' });
    const seen = server.seen.at(-1) as Seen;
    assert.equal(seen.url, '/mscr/models/prices/forecast?order=newest-first');
    assert.equal(seen.headers['content-type'], 'text/csv');
  });

  test('retrain sends the token as a Bearer header; a refused token is a config error', async () => {
    assert.deepEqual(await client.retrain('m', { token: ' s3cret ', reason: 'drift' }), {
      model: 'm',
      runId: 'r-1',
      state: 'started',
    });
    assert.deepEqual(JSON.parse((server.seen.at(-1) as Seen).body.toString()), {
      reason: 'drift',
    });
    const error = await rejection(client.retrain('m', { token: 'wrong' }));
    assert.ok(isMscrClientError(error));
    assert.equal(error.httpStatus, 401);
    assert.equal(error.code, 'config');
    await assert.rejects(client.retrain('m', { token: '' }), /admin token/);
  });

  test('runs accepts a list or {runs: [...]}', async () => {
    assert.deepEqual(await client.runs('m', { limit: 2 }), [{ id: 'r-1' }]);
  });

  test('an answer that is not JSON is a protocol error naming the call', async () => {
    const other = createClient({ baseUrl: `${server.url}/not-json` });
    const error = await rejection(other.serverMetadata());
    assert.ok(isMscrClientError(error));
    assert.equal(error.kind, 'protocol');
    assert.match(error.message, /not JSON: <html>proxy/);
  });

  test('bad arguments fail before anything is sent', async () => {
    const before = server.seen.length;
    assert.throws(() => createClient({ baseUrl: 'localhost:8080' }), /invalid service URL/);
    assert.throws(() => createClient({ baseUrl: 'ftp://x' }), /only http/);
    for (const call of [
      () => client.modelMetadata('../etc'),
      () => client.classify('m', new Uint8Array()),
      () => client.modelStatus('m', { version: 'Not An Alias' }),
    ]) {
      const error = await rejection(call());
      assert.ok(isMscrClientError(error));
      assert.equal(error.kind, 'input');
      assert.equal(error.code, 'bad_request');
    }
    assert.equal(server.seen.length, before);
  });
});
