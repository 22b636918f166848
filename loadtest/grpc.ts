/**
 * grpc: constant arrival rate over gRPC with k6's own `k6/net/grpc` client and the vendored
 * official protos (service/grpc/protos): Open Inference Protocol `ModelInfer` with raw
 * little-endian contents and with typed `fp32_contents` in turn, TF Serving's `Predict`
 * every fifth call, the gRPC health check at setup. Fails on any non-OK call or failed check,
 * and on p95 above P95_MS.
 *
 *   k6 run -e BASE_URL=http://localhost:8080 -e GRPC_ADDR=localhost:8081 loadtest/grpc.ts
 *
 * BASE_URL is used once, at setup, to discover the models (as every other script does).
 */
import grpc from 'k6/net/grpc';
import { check } from 'k6';
import encoding from 'k6/encoding';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import type { Options } from 'k6/options';
import { discover, pickTarget, waitReady, type Target } from './lib/api.ts';
import { common, envDuration, envInt, envNumber, envText } from './lib/config.ts';
import { summaryTrendStats, type SummaryData } from './lib/summary.ts';

const address = envText('GRPC_ADDR', 'localhost:8081');
const rate = envInt('RATE', 20);
const duration = envDuration('DURATION', '20s');
const p95 = envNumber('P95_MS', 500);

const client = new grpc.Client();
client.load(
  ['../service/grpc/protos'],
  'kserve/grpc_predict_v2.proto',
  'tensorflow_serving/apis/prediction_service.proto',
  'grpc/health/v1/health.proto',
);

const failed = new Counter('grpc_calls_failed');

export const options: Options = {
  scenarios: {
    grpc: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration,
      preAllocatedVUs: 4,
      maxVUs: 32,
    },
  },
  thresholds: {
    grpc_req_duration: [`p(95)<${p95}`],
    grpc_calls_failed: ['count==0'],
    checks: ['rate==1'],
  },
  summaryTrendStats,
};

interface Setup {
  target: Target;
  values: number[];
  raw: string;
}

export function setup(): Setup {
  waitReady();
  const target = pickTarget(discover());
  const shape = [1, ...target.input.shape.slice(1).map((d) => (d < 0 ? 1 : d))];
  const values = new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(0.5);
  client.connect(address, { plaintext: true, timeout: '10s' });
  const health = client.invoke('grpc.health.v1.Health/Check', { service: target.model });
  check(health, {
    'the gRPC health check says the model is SERVING': (r) =>
      r.status === grpc.StatusOK && (r.message as { status?: string }).status === 'SERVING',
  });
  client.close();
  const raw = encoding.b64encode(new Float32Array(values).buffer);
  return { target: { ...target, input: { ...target.input, shape } }, values, raw };
}

let connected = false;

export default function run(data: Setup): void {
  if (!connected) {
    client.connect(address, { plaintext: true, timeout: '10s' });
    connected = true;
  }
  const { target } = data;
  const n = exec.scenario.iterationInTest;
  const params = { tags: { model: target.model }, timeout: common.timeout };
  if (n % 5 === 4) {
    const response = client.invoke(
      'tensorflow.serving.PredictionService/Predict',
      {
        model_spec: { name: target.model },
        inputs: {
          [target.input.name]: {
            dtype: 'DT_FLOAT',
            tensor_shape: { dim: target.input.shape.map((size) => ({ size })) },
            float_val: data.values,
          },
        },
      },
      { ...params, tags: { ...params.tags, rpc: 'Predict' } },
    );
    const ok = check(response, {
      'Predict answers OK': (r) => r.status === grpc.StatusOK,
      'Predict answers outputs': (r) =>
        Object.keys((r.message as { outputs?: object } | null)?.outputs ?? {}).length > 0,
    });
    if (!ok) failed.add(1);
    return;
  }
  const raw = n % 2 === 0;
  const input = {
    name: target.input.name,
    datatype: 'FP32',
    shape: target.input.shape,
    ...(raw ? {} : { contents: { fp32_contents: data.values } }),
  };
  const response = client.invoke(
    'inference.GRPCInferenceService/ModelInfer',
    {
      model_name: target.model,
      inputs: [input],
      ...(raw ? { raw_input_contents: [data.raw] } : {}),
    },
    { ...params, tags: { ...params.tags, rpc: raw ? 'ModelInfer raw' : 'ModelInfer typed' } },
  );
  const ok = check(response, {
    'ModelInfer answers OK': (r) => r.status === grpc.StatusOK,
    // k6 hands messages over as protobuf JSON: field names in lowerCamelCase.
    'ModelInfer answers raw output contents': (r) =>
      ((r.message as { rawOutputContents?: unknown[] } | null)?.rawOutputContents?.length ?? 0) > 0,
  });
  if (!ok) failed.add(1);
}

export function handleSummary(data: SummaryData) {
  const duration = data.metrics.grpc_req_duration?.values ?? {};
  const checks = data.metrics.checks?.values ?? {};
  const summary = {
    script: 'grpc',
    address,
    model: (data.setup_data as Setup | undefined)?.target.model,
    calls: data.metrics.iterations?.values.count ?? 0,
    failedCalls: data.metrics.grpc_calls_failed?.values.count ?? 0,
    checks: { passes: checks.passes ?? 0, fails: checks.fails ?? 0 },
    latencyMs: { p50: duration.med, p95: duration['p(95)'], p99: duration['p(99)'] },
    passed: Object.values(data.metrics).every((m) =>
      Object.values(m?.thresholds ?? {}).every((t) => t.ok),
    ),
    k6: data,
  };
  const line = `grpc: ${summary.calls} calls to ${summary.model} at ${address}, ${summary.failedCalls} failed, p95 ${Number(duration['p(95)'] ?? 0).toFixed(1)} ms\n`;
  return {
    stdout: line,
    [`${common.resultsDir}/grpc-summary.json`]: JSON.stringify(summary, null, 2),
  };
}
