/**
 * A drain drops no request on a kept-alive connection (issue 13's failover test lost 1-3 of
 * ~1,400 requests with "other side closed": idle keep-alive connections were closed every
 * 25 ms while clients were sending their next request on them).
 *
 * Eight keep-alive clients post without pause; the service stops mid-stream. Every request
 * either gets an answer or is refused a *new* connection (ECONNREFUSED: a load balancer sends
 * that one elsewhere); none may fail on a connection the server had kept open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer, request } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tempStore } from '../reload/test-support.ts';
import { trackConnections } from './drain.ts';
import { publishToyClassifier, startService, toyInfer, waitUntil } from '../test-support.ts';

/** One POST on the keep-alive agent: the status, or the error code of a failed request. */
function post(url: string, body: string, agent: Agent): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end(body);
  });
}

test('stopping under keep-alive load answers or refuses, never cuts a kept connection', async () => {
  const temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 0);
  const failures: string[] = [];
  let answered = 0;
  let refused = 0;
  try {
    for (let round = 0; round < 4; round++) {
      const { service, url } = await startService(temp.dir, { models: 'toy' });
      await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      const body = JSON.stringify(toyInfer());
      let stopped = false;
      const client = async () => {
        while (!stopped) {
          const outcome = await post(`${url}/v2/models/toy/infer`, body, agent);
          if (outcome === 200) answered++;
          // 503 while draining is an answer a client can retry elsewhere, not a cut connection.
          else if (outcome === 503) continue;
          else if (outcome === 'ECONNREFUSED') {
            refused++;
            return; // the server has stopped listening: this client is done
          } else {
            failures.push(String(outcome));
            return;
          }
        }
      };
      const clients = Array.from({ length: 8 }, client);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await service.stop();
      stopped = true;
      await Promise.all(clients);
      agent.destroy();
    }
  } finally {
    await temp.cleanup();
  }
  assert.deepEqual(failures, [], `${failures.length} requests cut; ${answered} answered`);
  assert.ok(answered > 100, `only ${answered} answered`);
  assert.ok(refused >= 0);
});

/** Opens a TCP connection: 'connected' or the error code. */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

test('the listener is closed before any answer says Connection: close', async () => {
  // A client told `Connection: close` connects again at once; had the listener still been
  // open, that connection could sit in the kernel's accept queue when it closed, and be reset.
  // (The old order, listener closed after the rollout and source stopped, passes this too
  // unless a store poll is in flight at that moment; the unit test below is exact.)
  const temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 0);
  try {
    const { service, url } = await startService(temp.dir, { models: 'toy' });
    await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal(await post(`${url}/v2/models/toy/infer`, JSON.stringify(toyInfer()), agent), 200);
    const stopped = service.stop(); // not awaited: what holds at the moment the drain begins
    assert.equal(await connectOutcome(Number(new URL(url).port)), 'ECONNREFUSED');
    // The kept-alive connection is still served, and told to close.
    const answer = await new Promise<{ status: number; connection: string | undefined }>(
      (resolve, reject) => {
        const req = request(
          `${url}/v2/models/toy/infer`,
          { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }),
            );
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(toyInfer()));
      },
    );
    assert.equal(answer.connection, 'close');
    assert.ok(answer.status === 200 || answer.status === 503, `status ${answer.status}`);
    agent.destroy();
    await stopped;
  } finally {
    await temp.cleanup();
  }
});

test('stopAccepting closes the listener at once; kept-alive connections are still served', async () => {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const drain = trackConnections(server, { idleCloseMs: 50 });
  const { port } = server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.equal(await post(`http://127.0.0.1:${port}/`, '', agent), 200);
    drain.stopAccepting();
    drain.stopAccepting(); // idempotent
    assert.equal(await connectOutcome(port), 'ECONNREFUSED');
    assert.equal(await post(`http://127.0.0.1:${port}/`, '', agent), 200);
    assert.equal(drain.openConnections(), 1);
    agent.destroy();
    assert.equal(await drain.drain(5_000), 'closed');
  } finally {
    agent.destroy();
    server.closeAllConnections();
  }
});
