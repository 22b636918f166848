/**
 * The gRPC adapters against a real service on loopback ports, with stock clients from
 * outside the project: Triton's `tritonclient.grpc` and TF Serving's Python API (the
 * vendored official protos compiled with grpcio-tools), both pinned and installed by
 * scripts/setup-python.mjs; and @grpc/grpc-js with the same protos for load, drain and TLS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { MscrError, type ErrorCode } from '../../connectors/errors.ts';
import { resolveConfig } from '../config.ts';
import { tempStore } from '../reload/test-support.ts';
import { publishToyClassifier, startService, waitUntil } from '../test-support.ts';
import { grpcStatusOf } from './status.ts';
import { PROTO_DIR } from './protos.ts';
import { callUnary, grpcClients, methodOf, toyModelInfer } from './test-support.ts';

const run = promisify(execFile);
const python = new URL('../../.tools/venv/bin/python', import.meta.url).pathname;
const script = new URL('../testdata/grpc_clients_check.py', import.meta.url).pathname;

async function readyService(overrides: Record<string, string> = {}) {
  const temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 1);
  const started = await startService(temp.dir, overrides);
  assert.ok(started.grpcPort, 'with port 0 and no gRPC port set, gRPC takes any free port');
  await waitUntil(() => started.service.dataPlane.ready(), 'readiness');
  return { temp, ...started, address: `127.0.0.1:${started.grpcPort}` };
}

type Report = Record<string, unknown>;
type Failure = { code?: string; message?: string } | undefined;

test('stock clients work unchanged over gRPC: tritonclient.grpc, TF Serving protos, health', async () => {
  assert.ok(
    existsSync(python),
    `run node scripts/setup-python.mjs first (npm test does): ${python} is missing`,
  );
  const { temp, service, url, address } = await readyService({
    grpcMaxMessageBytes: String(1024 * 1024),
  });
  const out = await mkdtemp(path.join(os.tmpdir(), 'mscr-grpc-py-'));
  try {
    // Asynchronously: the service answers from this same process.
    const { stdout } = await run(
      python,
      [script, address, 'toy', 'features', 'probabilities', PROTO_DIR, out],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const r = JSON.parse(stdout) as Report;
    // Open Inference Protocol, through tritonclient.grpc.
    assert.equal(r.live, true);
    assert.equal(r.ready, true);
    assert.equal(r.model_ready, true);
    assert.equal((r.server as { name: string }).name, 'mscr');
    assert.deepEqual(r.metadata, {
      name: 'toy',
      versions: ['1'],
      platform: 'tfjs_layers-model',
      inputs: [{ name: 'features', datatype: 'FP32', shape: ['-1', '4'] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: ['-1', '2'] }],
    });
    const raw = r.infer_raw as {
      output: number[][];
      id: string;
      version: string;
      raw_outputs: number;
    };
    assert.equal(raw.id, 'stock-grpc');
    assert.equal(raw.version, '1');
    assert.equal(raw.raw_outputs, 1);
    assert.equal(raw.output.length, 2);
    assert.ok((raw.output[0]?.[1] ?? 0) > 0.9, 'version 1 favours class 1');
    assert.equal(r.infer_version_1, '1');
    const typed = r.infer_typed as { output: number[]; shape: number[]; id: string };
    assert.deepEqual(typed.shape, [1, 2]);
    assert.ok(Math.abs((typed.output[1] ?? 0) - (raw.output[0]?.[1] ?? 0)) < 1e-6);
    assert.equal(typed.id, 'typed');
    assert.deepEqual(r.infer_typed_int32, [2]);
    // Errors: the right status code and a message that says what to fix.
    const expectCode = (key: string, code: string, pattern?: RegExp) => {
      const got = r[key] as Failure;
      assert.equal(got?.code, code, `${key}: ${JSON.stringify(got)}`);
      if (pattern) assert.match(got?.message ?? '', pattern, key);
    };
    expectCode('unknown_model', 'NOT_FOUND', /unknown model "no-such-model"/);
    expectCode('unknown_model_ready', 'NOT_FOUND');
    expectCode('unknown_version', 'NOT_FOUND');
    expectCode('bad_version_text', 'INVALID_ARGUMENT', /model_version must be a version number/);
    expectCode('wrong_dtype', 'INVALID_ARGUMENT', /FP64, model expects FP32/);
    expectCode('wrong_shape', 'INVALID_ARGUMENT', /dimension 1 must be 4/);
    expectCode('unknown_input', 'INVALID_ARGUMENT', /unknown input 'nope'/);
    expectCode('unknown_output', 'INVALID_ARGUMENT', /unknown output 'nope'/);
    expectCode('lying_raw_size', 'INVALID_ARGUMENT', /carries 12 bytes.*needs 16/);
    expectCode('hostile_shape', 'INVALID_ARGUMENT', /more than the \d+ elements/);
    expectCode('both_contents', 'INVALID_ARGUMENT', /both contents and raw_input_contents/);
    expectCode('wrong_contents_field', 'INVALID_ARGUMENT', /uses fp32_contents/);
    expectCode('oversized', 'RESOURCE_EXHAUSTED');
    assert.ok(
      ['INTERNAL', 'INVALID_ARGUMENT'].includes((r.malformed as Failure)?.code ?? ''),
      `malformed message: ${JSON.stringify(r.malformed)}`,
    );
    assert.equal(r.live_after_errors, true);
    assert.deepEqual(r.infer_after_errors, raw.output);
    // TF Serving's API, from its official protos.
    for (const content of [false, true]) {
      const p = r[`tf_predict_content_${content ? 'True' : 'False'}`] as unknown as {
        values: number[];
        shape: number[];
        dtype: string;
        version: number;
        signature: string;
      };
      assert.deepEqual(p.shape, [2, 2]);
      assert.equal(p.dtype, 'DT_FLOAT');
      assert.equal(p.version, 1);
      assert.equal(p.signature, 'serving_default');
      assert.ok(Math.abs((p.values[1] ?? 0) - (raw.output[0]?.[1] ?? 0)) < 1e-6);
    }
    assert.equal(r.tf_predict_version_1, 1);
    expectCode('tf_unknown_model', 'NOT_FOUND');
    expectCode('tf_bad_signature', 'INVALID_ARGUMENT', /serving_default/);
    expectCode('tf_wrong_shape', 'INVALID_ARGUMENT');
    expectCode('tf_lying_content', 'INVALID_ARGUMENT', /carries 10 bytes/);
    expectCode('tf_string_input', 'INVALID_ARGUMENT', /BYTES/);
    assert.deepEqual(r.tf_metadata, {
      version: 1,
      method: 'tensorflow/serving/predict',
      inputs: { features: { name: 'features:0', dtype: 'DT_FLOAT', shape: [-1, 4] } },
      outputs: ['probabilities'],
    });
    assert.deepEqual(r.tf_status, [{ version: 1, state: 'AVAILABLE', error_code: 0 }]);
    expectCode('tf_status_unknown', 'NOT_FOUND');
    expectCode('tf_classify_unimplemented', 'UNIMPLEMENTED');
    // Health checking protocol, per model.
    assert.deepEqual(r.health, {
      '': 'SERVING',
      'inference.GRPCInferenceService': 'SERVING',
      toy: 'SERVING',
    });
    expectCode('health_unknown', 'NOT_FOUND');
    assert.equal(r.health_watch_first, 'SERVING');
    // Metrics: gRPC calls counted with protocol "grpc" and the gRPC status name.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(
      metrics,
      /mscr_requests_total\{model="toy",version="1",protocol="grpc",status="OK"\} \d+/,
    );
    assert.match(
      metrics,
      /mscr_requests_total\{model="no-such-model",version="",protocol="grpc",status="NOT_FOUND"\} \d+/,
    );
    assert.match(metrics, /protocol="grpc",status="INVALID_ARGUMENT"/);
  } finally {
    await service.stop();
    await temp.cleanup();
    await rm(out, { recursive: true, force: true });
  }
});

test("request ids: the caller's x-request-id comes back in metadata and as the response id", async () => {
  const { temp, service, address } = await readyService();
  const clients = grpcClients(address);
  try {
    const metadata = new grpc.Metadata();
    metadata.set('x-request-id', 'caller-id-1');
    const seen = await new Promise<{ id: string; header: unknown }>((resolve, reject) => {
      let header: unknown;
      const call = methodOf(clients.inference, 'ModelInfer')(
        toyModelInfer('toy'),
        metadata,
        (error, response) =>
          error ? reject(error) : resolve({ id: (response as { id: string }).id, header }),
      );
      call.on('metadata', (m: grpc.Metadata) => {
        header = m.get('x-request-id')[0];
      });
    });
    assert.deepEqual(seen, { id: 'caller-id-1', header: 'caller-id-1' });
    const fresh = await callUnary<{ id: string }>(
      clients.inference,
      'ModelInfer',
      toyModelInfer('toy'),
    );
    assert.match(fresh.id, /^[0-9a-f-]{36}$/, 'a generated id when the caller sent none');
  } finally {
    clients.close();
    await service.stop();
    await temp.cleanup();
  }
});

test('a version switch under gRPC load fails no call', async () => {
  const { temp, service, address } = await readyService();
  const clients = grpcClients(address);
  const seen: string[] = [];
  const failures: string[] = [];
  let running = true;
  const client = async () => {
    while (running) {
      try {
        const response = await callUnary<{ model_version: string }>(
          clients.inference,
          'ModelInfer',
          toyModelInfer('toy'),
        );
        seen.push(response.model_version);
      } catch (error) {
        failures.push(`${(error as grpc.ServiceError).code}: ${(error as Error).message}`);
      }
    }
  };
  const workers = Array.from({ length: 6 }, client);
  try {
    await waitUntil(() => seen.length > 20, 'traffic on version 1');
    await publishToyClassifier(temp.store, 'toy', 0);
    await waitUntil(() => seen.at(-1) === '2', 'responses from version 2');
    const switchedAt = seen.length;
    await waitUntil(() => seen.length > switchedAt + 30, 'more traffic on version 2');
    running = false;
    await Promise.all(workers);
    assert.deepEqual(failures, []);
    const first = seen.indexOf('2');
    assert.ok(
      seen.slice(0, first).every((v) => v === '1'),
      'version 1 before the switch',
    );
    assert.ok(
      seen.slice(first + 10).every((v) => v === '2'),
      'version 2 after the switch',
    );
  } finally {
    running = false;
    await Promise.all(workers);
    clients.close();
    await service.stop();
    await temp.cleanup();
  }
});

test('graceful drain: calls in flight at stop() finish, health watchers see NOT_SERVING, later calls are refused', async () => {
  const { temp, service, address } = await readyService();
  const clients = grpcClients(address);
  try {
    const statuses: string[] = [];
    const watch = (
      clients.health as unknown as {
        Watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
      }
    ).Watch({ service: 'toy' });
    watch.on('data', (m: { status: string }) => statuses.push(m.status));
    watch.on('error', () => undefined);
    const watchEnded = new Promise<void>((resolve) => watch.on('end', () => resolve()));
    await waitUntil(() => statuses.length > 0, 'the first health status');
    const inFlight = Array.from({ length: 40 }, () =>
      callUnary<{ model_version: string }>(
        clients.inference,
        'ModelInfer',
        toyModelInfer('toy', 8),
      ),
    );
    // Let the calls reach the server before the stop.
    await waitUntil(
      () =>
        service.metrics.inFlight
          .get()
          .then((m) => m.values.some((v) => v.labels.protocol === 'grpc' && v.value > 0)),
      'calls in flight',
      10_000,
    );
    const stopped = service.stop();
    const results = await Promise.allSettled(inFlight);
    assert.deepEqual(
      results
        .filter((r) => r.status === 'rejected')
        .map((r) => String((r as PromiseRejectedResult).reason)),
      [],
    );
    await stopped;
    await watchEnded;
    assert.deepEqual(statuses, ['SERVING', 'NOT_SERVING']);
    await assert.rejects(
      callUnary(clients.inference, 'ServerLive', {}),
      (error: grpc.ServiceError) => error.code === grpc.status.UNAVAILABLE,
    );
  } finally {
    clients.close();
    await service.stop();
    await temp.cleanup();
  }
});

test('TLS from configuration: a TLS client is served, a plaintext one is not', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mscr-grpc-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  const { temp, service, grpcPort } = await readyService({ grpcTlsCert: cert, grpcTlsKey: key });
  const { readFile } = await import('node:fs/promises');
  const tls = grpcClients(
    `localhost:${grpcPort}`,
    grpc.credentials.createSsl(await readFile(cert)),
  );
  const plain = grpcClients(`127.0.0.1:${grpcPort}`);
  try {
    assert.deepEqual(await callUnary(tls.inference, 'ServerLive', {}), { live: true });
    await assert.rejects(
      callUnary(plain.inference, 'ServerLive', {}, undefined),
      (error: grpc.ServiceError) => error.code === grpc.status.UNAVAILABLE,
    );
  } finally {
    tls.close();
    plain.close();
    await service.stop();
    await temp.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
});

test('configuration: gRPC on 8081 by default, 0 turns it off, TLS needs both files', () => {
  assert.equal(resolveConfig({}).grpc.port, 8081);
  assert.equal(resolveConfig({ grpcPort: '0' }).grpc.port, 0);
  assert.equal(resolveConfig({ port: '0' }).grpc.port, undefined, 'any free port beside port 0');
  assert.equal(resolveConfig({ port: '0', grpcPort: '9000' }).grpc.port, 9000);
  assert.throws(
    () => resolveConfig({ grpcPort: '70000' }),
    /gRPC port \(0 = off\) must be an integer from 0 to 65535/,
  );
  assert.throws(
    () => resolveConfig({ grpcTlsCert: '/c.pem' }),
    /needs both a certificate and a key/,
  );
  assert.equal(resolveConfig({ grpcMaxMessageBytes: '2048' }).grpc.maxMessageBytes, 2048);
});

test('errors map to gRPC status codes in one place, internals stay hidden', () => {
  const expected: Record<ErrorCode, grpc.status> = {
    bad_request: grpc.status.INVALID_ARGUMENT,
    bad_data: grpc.status.INVALID_ARGUMENT,
    config: grpc.status.INVALID_ARGUMENT,
    not_found: grpc.status.NOT_FOUND,
    conflict: grpc.status.ABORTED,
    integrity: grpc.status.INTERNAL,
    payload_too_large: grpc.status.RESOURCE_EXHAUSTED,
    unavailable: grpc.status.UNAVAILABLE,
    internal: grpc.status.INTERNAL,
  };
  for (const [code, status] of Object.entries(expected)) {
    assert.deepEqual(grpcStatusOf(new MscrError(code as ErrorCode, 'why')), {
      code: status,
      details: 'why',
    });
  }
  assert.equal(
    grpcStatusOf(new MscrError('unavailable', 'x', { status: 501 })).code,
    grpc.status.UNIMPLEMENTED,
  );
  assert.deepEqual(grpcStatusOf(new Error('/secret/path')), {
    code: grpc.status.INTERNAL,
    details: 'internal server error',
  });
});

test('SIGTERM on the real `mscr serve` drains queued gRPC calls and exits 0', async () => {
  const temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 0);
  const bin = new URL('../../bin/mscr.js', import.meta.url).pathname;
  // A long batching delay keeps calls queued when the signal arrives.
  const child = spawn(
    process.execPath,
    [
      bin,
      'serve',
      '--store',
      temp.dir,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--workers',
      '1',
      '--max-batch-size',
      '64',
      '--max-queue-delay',
      '400',
      '--log-level',
      'warn',
      '--backend',
      'wasm',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let clients: ReturnType<typeof grpcClients> | undefined;
  try {
    await waitUntil(() => /gRPC on port (\d+)/.test(stderr), 'the listening line');
    const port = /gRPC on port (\d+)/.exec(stderr)?.[1] as string;
    const c = grpcClients(`127.0.0.1:${port}`);
    clients = c;
    await waitUntil(
      async () => ((await callUnary(c.inference, 'ServerReady', {})) as { ready: boolean }).ready,
      'readiness over gRPC',
    );
    const inFlight = Array.from({ length: 10 }, () =>
      callUnary<{ model_version: string }>(c.inference, 'ModelInfer', toyModelInfer('toy')),
    );
    await new Promise((resolve) => setTimeout(resolve, 100)); // they are queued now
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const results = await Promise.all(inFlight);
    assert.deepEqual(
      results.map((r) => r.model_version),
      Array.from({ length: 10 }, () => '1'),
    );
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, stderr);
  } finally {
    clients?.close();
    if (child.exitCode === null) child.kill('SIGKILL');
    await temp.cleanup();
  }
});

test('a configured model without a ready version: UNAVAILABLE, NOT_SERVING, server not ready', async () => {
  const temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 1);
  const { service, grpcPort } = await startService(temp.dir, { models: 'toy,ghost' });
  const clients = grpcClients(`127.0.0.1:${String(grpcPort)}`);
  try {
    await waitUntil(() => service.dataPlane.modelReady('toy'), 'toy ready');
    await assert.rejects(
      callUnary(clients.inference, 'ModelInfer', toyModelInfer('ghost')),
      (error: grpc.ServiceError) => error.code === grpc.status.UNAVAILABLE,
    );
    assert.deepEqual(await callUnary(clients.inference, 'ServerReady', {}), { ready: false });
    assert.deepEqual(await callUnary(clients.inference, 'ModelReady', { name: 'ghost' }), {
      ready: false,
    });
    assert.deepEqual(await callUnary(clients.health, 'Check', { service: 'ghost' }), {
      status: 'NOT_SERVING',
    });
    assert.deepEqual(await callUnary(clients.health, 'Check', { service: 'toy' }), {
      status: 'SERVING',
    });
    assert.deepEqual(await callUnary(clients.health, 'Check', { service: '' }), {
      status: 'NOT_SERVING',
    });
    const served = await callUnary<{ model_version: string }>(
      clients.inference,
      'ModelInfer',
      toyModelInfer('toy'),
    );
    assert.equal(served.model_version, '1', 'the ready model keeps serving');
  } finally {
    clients.close();
    await service.stop();
    await temp.cleanup();
  }
});

test('a gRPC port already taken stops the start with a message naming it, nothing left running', async () => {
  const temp = await tempStore();
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const taken = (blocker.address() as net.AddressInfo).port;
  try {
    await assert.rejects(
      startService(temp.dir, { grpcPort: String(taken) }),
      new RegExp(`gRPC cannot listen on 127\\.0\\.0\\.1:${taken}`),
    );
  } finally {
    blocker.close();
    await temp.cleanup();
  }
});
