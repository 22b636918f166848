/**
 * The kserve Python SDK's inference clients, unchanged (pinned, installed by
 * scripts/setup-python.mjs into .tools/venv-kserve), against a real mscr service: REST V1 and
 * V2, gRPC, error texts, and TF Serving's JSON under strict protobuf parsing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROTO_DIR } from './grpc/protos.ts';
import { tempStore } from './reload/test-support.ts';
import { publishToyClassifier, startService, waitUntil } from './test-support.ts';

const python = new URL('../.tools/venv-kserve/bin/python', import.meta.url).pathname;
const script = new URL('./testdata/kserve_check.py', import.meta.url).pathname;

interface Report {
  v1_live: boolean;
  v1_model_ready: boolean;
  v1_predictions: number[][];
  v1_error: string;
  v1_error_type: string;
  v2_live: boolean;
  v2_ready: boolean;
  v2_model_ready: boolean;
  v2_id: string;
  v2_output: number[][];
  v2_error: string;
  grpc_ready: boolean;
  grpc_model_ready: boolean;
  grpc_id: string;
  grpc_output: number[][];
  strict_status: [number, string][];
  strict_metadata: {
    name: string;
    version: number;
    inputs: Record<string, number[]>;
    outputs: string[];
    method: string;
  };
}

test('the kserve SDK works unchanged: REST V1 and V2, gRPC, errors, strict TF Serving JSON', async () => {
  assert.ok(
    existsSync(python),
    `run node scripts/setup-python.mjs first (npm test does): ${python} is missing`,
  );
  const temp = await tempStore();
  await publishToyClassifier(temp.store, 'toy', 1);
  const { service, url, grpcPort } = await startService(temp.dir);
  const out = await mkdtemp(path.join(os.tmpdir(), 'mscr-kserve-py-'));
  try {
    assert.ok(grpcPort, 'the service listens for gRPC');
    await waitUntil(() => service.dataPlane.ready(), 'readiness');
    // Asynchronously: the service answers from this same process.
    const { stdout } = await promisify(execFile)(
      python,
      [script, url, `127.0.0.1:${grpcPort}`, 'toy', 'features', 'probabilities', PROTO_DIR, out],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const r = JSON.parse(stdout) as Report;
    // V1: GET / liveness, model readiness from `ready`, predict, an error with its reason.
    assert.equal(r.v1_live, true);
    assert.equal(r.v1_model_ready, true);
    assert.ok((r.v1_predictions[0]?.[1] ?? 0) > 0.9, 'version 1 favours class 1');
    assert.equal(r.v1_error_type, 'application/json');
    assert.match(r.v1_error, /instances\[0\] has 2 entries; dimension 0 must be 4/);
    assert.match(r.v1_error, /400 Bad Request/);
    // V2: health, readiness, an id on an answer to a request without one, an error's text.
    assert.equal(r.v2_live, true);
    assert.equal(r.v2_ready, true);
    assert.equal(r.v2_model_ready, true);
    assert.match(r.v2_id, /^[\w.:-]+$/);
    assert.deepEqual(
      r.v2_output,
      r.v1_predictions.map((row) => row.map((v) => Math.fround(v))),
    );
    assert.match(r.v2_error, /unknown input 'nope'; the model's inputs are: 'features'/);
    // gRPC, through the SDK's InferenceGRPCClient.
    assert.equal(r.grpc_ready, true);
    assert.equal(r.grpc_model_ready, true);
    assert.equal(r.grpc_id, 'kserve-grpc');
    assert.equal(r.grpc_output.length, 2);
    assert.deepEqual(r.grpc_output[0], r.v2_output[0]);
    // TF Serving's status and metadata under json_format.Parse (unknown fields rejected).
    assert.deepEqual(r.strict_status, [[1, 'AVAILABLE']]);
    assert.deepEqual(r.strict_metadata, {
      name: 'toy',
      version: 1,
      inputs: { features: [-1, 4] },
      outputs: ['probabilities'],
      method: 'tensorflow/serving/predict',
    });
  } finally {
    await service.stop();
    await temp.cleanup();
    await rm(out, { recursive: true, force: true });
  }
});
