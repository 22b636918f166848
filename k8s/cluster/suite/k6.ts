/**
 * k6 as a pod in the cluster, the load generator of the journeys that the issue runs "with a
 * k6 scenario in the cluster" (retraining hot-reload, HPA): the scripts of loadtest/ (the
 * same files `npm run loadtest` runs) from a ConfigMap, the locally built k6 image
 * (`imagePullPolicy: Never`), the Service reached by its DNS name from inside the cluster.
 *
 * The journeys do not know in advance how long they take (a retraining Job, an HPA decision),
 * so k6 runs with a long DURATION and its REST API on the pod address: the test stops it
 * (`PATCH /v1/status {"stopped": true}`) when the journey is over. k6 then still runs
 * teardown() and handleSummary(), and a request cut by the stop is not counted (k6 drops the
 * samples of an interrupted iteration). The pod prints the script's summary JSON after a
 * marker line, which the test reads from the pod's log.
 *
 * Network safety: the test talks to the pod's address (the cluster's pod range, behind the
 * guard); k6 talks only to the Service's name, resolved by the cluster's CoreDNS, and sends no
 * usage report.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { repoRoot } from '../layout.ts';
import { until } from './fixture.ts';

/** The namespace of the k6 pods (not the release's: `helm uninstall` must leave that empty). */
export const K6_NS = 'mscr-load';
const CONFIGMAP = 'mscr-k6-scripts';
const API_PORT = 6565;
const MARKER = '----- mscr k6 summary json -----';

/** The k6 scripts the pods may run (loadtest/<name>.ts). */
export type K6Script = 'load' | 'reload';

/** What a run's summary says (the fields of loadtest/lib/summary.ts that the tests read). */
export interface K6Summary {
  script: string;
  seconds: number;
  /** Load requests (`http_reqs{traffic:load}`). */
  requests: number;
  /** Requests per second over the run. */
  rate: number;
  /** Failed requests of the whole run, setup included (`http_req_failed` passes). */
  failedRequestsAll: number;
  droppedIterations: number;
  checks: { passes: number; fails: number };
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  version?: {
    before: number;
    after: number;
    switched: boolean;
    responsesFromNewVersion: number;
    firstNewVersionAtSeconds?: number;
  };
}

export interface K6Run {
  readonly pod: string;
  /** Load requests so far (k6's `http_reqs`, setup included), from its REST API. */
  requests(): Promise<number>;
  /** Stops the scenario (REST API), waits for the pod to end and returns its summary. */
  stop(): Promise<K6Summary>;
}

export interface K6Options {
  /** A name for the pod (a DNS label). */
  name: string;
  script: K6Script;
  /** http://<service>.<namespace>.svc: the Service as pods reach it. */
  baseUrl: string;
  /** The scripts' parameters (RATE, DURATION, MODEL, PRE_VUS, ...; see loadtest/). */
  env: Record<string, string>;
  image: string;
}

/** The files of loadtest/ a pod needs: the scripts, lib/ and the samples; key -> path. */
export function scriptFiles(): { key: string; path: string; binary: boolean }[] {
  const dir = join(repoRoot, 'loadtest');
  const files = [
    ...(['load', 'reload'] satisfies K6Script[]).map((s) => `${s}.ts`),
    ...readdirSync(join(dir, 'lib'))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .map((f) => `lib/${f}`),
    ...readdirSync(join(dir, 'samples')).map((f) => `samples/${f}`),
  ];
  return files.map((path) => ({
    key: path.replaceAll('/', '.'),
    path,
    binary: !/\.(ts|csv)$/.test(path),
  }));
}

/** The namespace and the ConfigMap of the scripts, once per cluster. */
async function ensureScripts(core: CoreV1Api): Promise<void> {
  const existing = await core.listNamespace({ fieldSelector: `metadata.name=${K6_NS}` });
  if (existing.items.length > 0) return;
  await core.createNamespace({ body: { metadata: { name: K6_NS } } });
  const data: Record<string, string> = {};
  const binaryData: Record<string, string> = {};
  for (const file of scriptFiles()) {
    const content = readFileSync(join(repoRoot, 'loadtest', file.path));
    if (file.binary) binaryData[file.key] = content.toString('base64');
    else data[file.key] = content.toString('utf8');
  }
  await core.createNamespacedConfigMap({
    namespace: K6_NS,
    body: { metadata: { name: CONFIGMAP, namespace: K6_NS }, data, binaryData },
  });
  await until('the default ServiceAccount of the k6 namespace exists', async () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace: K6_NS }),
  );
}

/**
 * The pod's shell command: k6 on the script, then the marker and the summary JSON. k6's exit
 * code (99 when a latency threshold of the script failed, 103 when stopped from the REST API)
 * is kept, but the test judges the summary, which is printed either way.
 */
export const POD_COMMAND = [
  `k6 run --quiet --no-usage-report --address "$LOAD_API_ADDRESS" "$SCRIPTS_DIR/$LOAD_SCRIPT.ts"`,
  'code=$?',
  `echo '${MARKER}'`,
  'cat "$RESULTS_DIR/$LOAD_SCRIPT-summary.json"',
  'exit $code',
].join('; ');

function k6Pod(options: K6Options): V1Pod {
  const env = {
    ...options.env,
    BASE_URL: options.baseUrl,
    LOAD_SCRIPT: options.script,
    SCRIPTS_DIR: '/scripts',
    RESULTS_DIR: '/results',
    LOAD_API_ADDRESS: `0.0.0.0:${API_PORT}`,
    K6_NO_USAGE_REPORT: 'true',
  };
  return {
    metadata: { name: options.name, namespace: K6_NS, labels: { app: 'k6' } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 12345, runAsGroup: 12345 },
      containers: [
        {
          name: 'k6',
          image: options.image,
          imagePullPolicy: 'Never',
          command: ['sh', '-c', POD_COMMAND],
          env: Object.entries(env).map(([name, value]) => ({ name, value })),
          ports: [{ name: 'api', containerPort: API_PORT }],
          resources: { requests: { cpu: '100m', memory: '64Mi' } },
          volumeMounts: [
            { name: 'scripts', mountPath: '/scripts', readOnly: true },
            { name: 'results', mountPath: '/results' },
          ],
        },
      ],
      volumes: [
        {
          name: 'scripts',
          configMap: {
            name: CONFIGMAP,
            items: scriptFiles().map((f) => ({ key: f.key, path: f.path })),
          },
        },
        { name: 'results', emptyDir: {} },
      ],
    },
  };
}

/** The summary JSON after the marker line of a k6 pod's log. */
export function parseSummary(log: string): K6Summary {
  const at = log.lastIndexOf(MARKER);
  assert.ok(at >= 0, `no summary in the k6 pod's log:\n${log.slice(-3000)}`);
  // The JSON object after the marker (k6 has exited by then; the braces bound it anyway).
  const rest = log.slice(at + MARKER.length);
  const text = rest.slice(rest.indexOf('{'), rest.lastIndexOf('}') + 1);
  try {
    return JSON.parse(text) as K6Summary;
  } catch {
    assert.fail(`the k6 summary is not JSON:\n${log.slice(-3000)}`);
  }
}

/** k6's REST API (`k6 run --address`) at http://<address>. */
export function k6Api(base: string) {
  const api = `${base}/v1`;
  const requests = async (): Promise<number> => {
    const res = await fetch(`${api}/metrics/http_reqs`, { signal: AbortSignal.timeout(5000) });
    if (res.status === 404) return 0; // no request measured yet
    const body = (await res.json()) as { data?: { attributes?: { sample?: { count?: number } } } };
    return body.data?.attributes?.sample?.count ?? 0;
  };
  return {
    requests,
    /**
     * True once setup is over (a handful of requests: readiness, model discovery) and the
     * scenario runs (k6's execution status 7) with 20 requests counted.
     */
    async sendsLoad(): Promise<boolean> {
      const res = await fetch(`${api}/status`, { signal: AbortSignal.timeout(5000) });
      const body = (await res.json()) as { data?: { attributes?: { status?: number } } };
      return body.data?.attributes?.status === 7 && (await requests()) >= 20;
    },
    /** Stops the test run; k6 then runs teardown() and handleSummary() and exits. */
    async stop(): Promise<void> {
      const res = await fetch(`${api}/status`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          data: { type: 'status', id: 'default', attributes: { stopped: true } },
        }),
        signal: AbortSignal.timeout(10_000),
      }).catch((error: unknown) => error as Error);
      // A scenario that has ended by itself has closed the API: that is fine too.
      if (!(res instanceof Error)) assert.equal(res.status, 200, await res.text());
    },
  };
}

/**
 * Starts k6 in a pod and waits until its scenario sends load (setup done, requests counted);
 * the caller stops it.
 */
export async function startK6(core: CoreV1Api, options: K6Options): Promise<K6Run> {
  await ensureScripts(core);
  await core.createNamespacedPod({ namespace: K6_NS, body: k6Pod(options) });
  const podLog = () =>
    core
      .readNamespacedPodLog({ name: options.name, namespace: K6_NS })
      .catch((error: unknown) => `(no log: ${String(error)})`);
  const readPod = () => core.readNamespacedPod({ name: options.name, namespace: K6_NS });
  const ip = await until(
    `the k6 pod ${options.name} runs`,
    async () => {
      const pod = await readPod();
      const phase = pod.status?.phase;
      if (phase === 'Failed' || phase === 'Succeeded') {
        assert.fail(`the k6 pod ended at once (${phase}):\n${await podLog()}`);
      }
      return phase === 'Running' ? pod.status?.podIP : undefined;
    },
    120_000,
  );
  const api = k6Api(`http://${ip}:${API_PORT}`);
  await until(
    `the k6 pod ${options.name} sends load`,
    async () => {
      const pod = await readPod();
      if (pod.status?.phase !== 'Running') {
        assert.fail(`the k6 pod stopped before its load began:\n${await podLog()}`);
      }
      return (await api.sendsLoad()) || undefined;
    },
    120_000,
  );
  return {
    pod: options.name,
    requests: api.requests,
    async stop() {
      await api.stop();
      await until(
        `the k6 pod ${options.name} ends`,
        async () => {
          const phase = (await readPod()).status?.phase;
          return phase === 'Succeeded' || phase === 'Failed' || undefined;
        },
        180_000,
      );
      const summary = parseSummary(await podLog());
      await core.deleteNamespacedPod({ name: options.name, namespace: K6_NS });
      return summary;
    },
  };
}

/** Logs a k6 run's figures and asserts that no request failed and every check held. */
export function assertK6NoFailures(journey: string, summary: K6Summary, minimum = 20): void {
  console.log(
    `# ${journey}: k6 in the cluster: ${summary.requests} requests (${summary.rate.toFixed(1)}/s, p95 ${summary.latencyMs.p95} ms), ${summary.failedRequestsAll} failed, ${summary.checks.fails} checks failed, ${summary.droppedIterations} iterations dropped, ${summary.seconds.toFixed(0)} s`,
  );
  assert.equal(summary.failedRequestsAll, 0, `${summary.failedRequestsAll} k6 requests failed`);
  assert.equal(summary.checks.fails, 0, `${summary.checks.fails} k6 checks failed`);
  assert.ok(summary.requests >= minimum, `only ${summary.requests} k6 requests`);
}
