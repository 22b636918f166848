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
import { Agent, request } from 'node:http';
import { tempStore } from '../reload/test-support.ts';
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
