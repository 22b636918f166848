/**
 * Journeys 5 and 2: `helm upgrade` changing the configuration (a rolling update) under load,
 * which also turns the retraining CronJob and its HTTP trigger on; then retraining in the
 * cluster, started by `mscr retrain trigger --cronjob` and by the Service's retrain endpoint
 * with the admin token: the Job's pod (the mscr image) trains, gates and publishes a new
 * version to the in-cluster MinIO, and every serving replica hot-reloads it, with k6 running
 * in the cluster throughout (loadtest/reload.ts in a pod, suite/k6.ts) and no request failing.
 * The rolling upgrade keeps the host load (suite/load.ts says why).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { V1Pod } from '@kubernetes/client-node';
import { CHART_DIR, helm } from '../../testing/helm.ts';
import { sharedData } from '../../../tests/shared-data.ts';
import { sleep } from '../host.ts';
import { until } from './fixture.ts';
import type { Fixture } from './fixture.ts';
import { assertNoFailures, startLoad } from './load.ts';
import type { LoadResult } from './load.ts';
import { assertK6NoFailures, startK6 } from './k6.ts';
import type { K6Run, K6Summary } from './k6.ts';
import {
  DATA_BUCKET,
  MODEL,
  RELEASE,
  RELEASE_NS,
  STORE,
  mscr,
  readyServingPods,
  s3Client,
} from './serving-journeys.ts';

const DATA_KEY = 'stock/goog_daily.csv';
const CRONJOB = `${RELEASE}-retrain`;

/** The versions a serving pod serves, asked of the pod itself (its pod address). */
async function podVersions(pod: V1Pod): Promise<string[]> {
  const res = await fetch(`http://${pod.status?.podIP}:8080/v2/models/${MODEL}`, {
    signal: AbortSignal.timeout(5000),
  });
  const body = (await res.json()) as { versions?: string[] };
  return body.versions ?? [];
}

/** Waits until every Ready serving replica serves `version`; the seconds it took. */
async function everyReplicaServes(fixture: Fixture, version: string): Promise<number> {
  const started = Date.now();
  await until(
    `every serving replica serves version ${version}`,
    async () => {
      const pods = await readyServingPods(fixture);
      if (pods.length < 2) return undefined;
      const served = await Promise.all(pods.map(podVersions));
      return served.every((v) => v.includes(version)) || undefined;
    },
    180_000,
  );
  return (Date.now() - started) / 1000;
}

/** The logs of a Job's pods, for the message of a failed assertion. */
async function jobLog(fixture: Fixture, jobName: string): Promise<string> {
  const { core } = fixture.kube;
  const pods = await core.listNamespacedPod({
    namespace: RELEASE_NS,
    labelSelector: `job-name=${jobName}`,
  });
  const logs = await Promise.all(
    pods.items.map(async (p) => {
      const log = await core
        .readNamespacedPodLog({ name: p.metadata!.name!, namespace: RELEASE_NS })
        .catch((error: unknown) => String(error));
      return `--- ${p.metadata?.name} (${p.status?.phase}):\n${log}`;
    }),
  );
  return `Job ${jobName}:\n${logs.join('\n')}`;
}

/**
 * loadtest/reload.ts in a k6 pod against the Service's name: 20 requests/s of V1, V2 and
 * forecast in turn, at most 4 in flight (like the host load's 4 clients: a slower service gets
 * fewer requests, not a growing queue), until the test stops it. Its setup records the served
 * version; every V2 and forecast answer names the version that answered.
 */
function reloadLoad(fixture: Fixture, name: string): Promise<K6Run> {
  return startK6(fixture.kube.core, {
    name,
    script: 'reload',
    baseUrl: fixture.serving.inClusterUrl,
    image: fixture.images.k6!.ref,
    env: {
      MODEL,
      RATE: '20',
      PRE_VUS: '4',
      MAX_VUS: '4',
      DURATION: '30m',
      TIMEOUT: '15s',
    },
  });
}

/** No failed request or check, and the answers switched from version `from` to `to`. */
function assertReloaded(journey: string, summary: K6Summary, from: number, to: number): void {
  const v = summary.version;
  console.log(
    `# ${journey}: k6 saw version ${v?.before} -> ${v?.after}, ${v?.responsesFromNewVersion} answers from the new one`,
  );
  assertK6NoFailures(journey, summary);
  assert.equal(v?.before, from, JSON.stringify(v));
  assert.equal(v?.after, to, JSON.stringify(v));
  assert.ok((v?.responsesFromNewVersion ?? 0) > 0, JSON.stringify(v));
}

interface RunRecord {
  id: string;
  outcome: string;
  version?: number;
  message?: string;
}

/** The model's retraining runs, as the Service lists them (from the store's run records). */
async function runs(url: string): Promise<RunRecord[]> {
  const res = await fetch(`${url}/mscr/models/${MODEL}/runs`, {
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as RunRecord[] | { runs: RunRecord[] };
  return Array.isArray(body) ? body : body.runs;
}

export function retrainingJourneys(fixture: Fixture): void {
  const state = fixture.serving;
  const adminToken = randomBytes(24).toString('base64url');

  test('helm upgrade changing the configuration rolls every pod under load: zero failed requests', async () => {
    const { core } = fixture.kube;
    // The retraining data, where the chart's retraining.data points (an s3:// URI).
    await s3Client(state.minio!).send(
      new PutObjectCommand({
        Bucket: DATA_BUCKET,
        Key: DATA_KEY,
        Body: readFileSync(sharedData(DATA_KEY)),
      }),
    );
    await core.createNamespacedSecret({
      namespace: RELEASE_NS,
      body: {
        metadata: { name: 'mscr-admin', namespace: RELEASE_NS },
        stringData: { token: adminToken },
      },
    });
    const before = new Set((await readyServingPods(fixture)).map((p) => p.metadata!.name!));
    assert.ok(before.size >= 2);
    const load = startLoad({ url: state.url, model: MODEL, body: state.inferBody });
    let result: LoadResult;
    try {
      await sleep(3000);
      const started = Date.now();
      await helm(fixture.cluster!.userKubeconfig, [
        'upgrade',
        RELEASE,
        CHART_DIR,
        '-n',
        RELEASE_NS,
        '--reuse-values',
        // A configuration change (the ConfigMap's checksum rolls the pods) ...
        '--set',
        'config.logLevel=warn',
        // ... and retraining on, with the HTTP trigger (new env and token in the pods).
        '--set',
        'retraining.enabled=true',
        '--set',
        `retraining.model=${MODEL}`,
        '--set-json',
        `retraining.data=["s3://${DATA_BUCKET}/${DATA_KEY}"]`,
        // One epoch keeps the runs short; the gate's tolerance lets a one-epoch candidate
        // replace a one-epoch version (the gate itself has its own tests).
        '--set-json',
        'retraining.extraArgs=["--epochs","1","--tolerance","1000000"]',
        '--set',
        'retraining.resources.requests.cpu=100m',
        '--set',
        'retraining.resources.requests.memory=512Mi',
        '--set',
        'retraining.httpTrigger.enabled=true',
        '--set',
        'retraining.httpTrigger.adminTokenSecret.name=mscr-admin',
        '--wait',
        '--timeout',
        '600s',
      ]);
      await until('every pod replaced and Ready', async () => {
        const ready = await readyServingPods(fixture);
        return (
          (ready.length >= 2 && ready.every((p) => !before.has(p.metadata!.name!))) || undefined
        );
      });
      console.log(
        `# upgrade: new pods Ready ${((Date.now() - started) / 1000).toFixed(1)} s after helm upgrade began`,
      );
      // The old pods drain their kept-alive connections (preStop, then up to drainTimeout)
      // and still answer on them meanwhile: the load runs on until they are gone.
      await until('the old pods are gone', async () => {
        const pods = await fixture.kube.core.listNamespacedPod({
          namespace: RELEASE_NS,
          labelSelector: state.selector,
        });
        return pods.items.every((p) => !before.has(p.metadata!.name!)) || undefined;
      });
      console.log(
        `# upgrade: old pods gone ${((Date.now() - started) / 1000).toFixed(1)} s after helm upgrade began`,
      );
      await sleep(3000);
    } finally {
      result = await load.stop();
    }
    assertNoFailures('upgrade', result);
    const config = await core.readNamespacedConfigMap({ name: RELEASE, namespace: RELEASE_NS });
    assert.equal(config.data?.MSCR_LOG_LEVEL, 'warn');
    const pod = (await readyServingPods(fixture))[0]!;
    const env = pod.spec?.containers[0]?.env?.map((e) => e.name) ?? [];
    assert.ok(env.includes('MSCR_RETRAIN_CRONJOB'), env.join(', '));
  });

  test('mscr retrain trigger --cronjob: the Job trains and publishes, every replica hot-reloads it under load', async () => {
    const cron = await fixture.kube.batch.readNamespacedCronJob({
      name: CRONJOB,
      namespace: RELEASE_NS,
    });
    assert.equal(
      cron.spec?.jobTemplate.spec?.template.spec?.containers[0]?.image,
      fixture.images.mscr!.ref,
    );
    const before = await runs(state.url);
    const load = await reloadLoad(fixture, 'k6-retrain-cli');
    let summary: K6Summary;
    try {
      const started = Date.now();
      const trigger = await mscr(
        state.minio!,
        [
          'retrain',
          'trigger',
          '--cronjob',
          CRONJOB,
          '--namespace',
          RELEASE_NS,
          '--kubeconfig',
          fixture.cluster!.userKubeconfig,
          '--model',
          MODEL,
          '--reason',
          'cluster journey',
          '--wait',
          '--timeout',
          '15m',
        ],
        1_000_000,
      );
      assert.equal(trigger.code, 0, trigger.output);
      assert.match(trigger.output, /created Job mscr\/mscr-retrain-/);
      assert.match(trigger.output, /succeeded/);
      console.log(
        `# retrain (CLI): Job succeeded ${((Date.now() - started) / 1000).toFixed(1)} s after the trigger`,
      );
      const reload = await everyReplicaServes(fixture, '2');
      console.log(
        `# retrain (CLI): every replica served version 2 ${reload.toFixed(1)} s after the Job ended`,
      );
      await sleep(3000);
    } finally {
      summary = await load.stop();
    }
    assertReloaded('retrain (CLI)', summary, 1, 2);
    const after = await runs(state.url);
    const fresh = after.filter((r) => !before.some((b) => b.id === r.id));
    assert.equal(fresh.length, 1, JSON.stringify(after));
    assert.equal(fresh[0]!.outcome, 'published', JSON.stringify(fresh[0]));
    const list = await mscr(state.minio!, ['models', 'list', '--store', STORE]);
    assert.equal(list.code, 0, list.output);
  });

  test("the Service's retrain endpoint (admin token) starts a Job from the CronJob; the replicas reload its version", async () => {
    const endpoint = `${state.url}/mscr/models/${MODEL}/retrain`;
    // Without the token, or with a wrong one: 401 and no run.
    const noToken: Record<string, string>[] = [{}, { authorization: 'Bearer not-the-admin-token' }];
    for (const headers of noToken) {
      const res = await fetch(endpoint, { method: 'POST', headers });
      const body = (await res.json()) as { error?: string };
      assert.equal(res.status, 401, JSON.stringify(body));
      assert.ok(body.error);
    }
    const jobsBefore = await fixture.kube.batch.listNamespacedJob({ namespace: RELEASE_NS });
    const load = await reloadLoad(fixture, 'k6-retrain-http');
    let summary: K6Summary;
    let runId = '';
    try {
      const started = Date.now();
      const trigger = await mscr(state.minio!, [
        'retrain',
        'trigger',
        '--url',
        state.url,
        '--token',
        adminToken,
        '--model',
        MODEL,
        '--reason',
        'cluster journey over HTTP',
      ]);
      assert.equal(trigger.code, 0, trigger.output);
      runId = /started retraining run (\S+)/.exec(trigger.output)?.[1] ?? '';
      assert.ok(runId, trigger.output);
      const job = await until('the Service created a Job', async () => {
        const jobs = await fixture.kube.batch.listNamespacedJob({ namespace: RELEASE_NS });
        return jobs.items.find(
          (j) => !jobsBefore.items.some((b) => b.metadata?.name === j.metadata?.name),
        );
      });
      assert.match(job.metadata?.name ?? '', /^mscr-retrain-/);
      const outcome = await until(
        'the Job finished',
        async () => {
          const j = await fixture.kube.batch.readNamespacedJob({
            name: job.metadata!.name!,
            namespace: RELEASE_NS,
          });
          const done = j.status?.conditions?.find(
            (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
          );
          return done?.type;
        },
        900_000,
      );
      assert.equal(outcome, 'Complete', await jobLog(fixture, job.metadata!.name!));
      console.log(
        `# retrain (HTTP): Job succeeded ${((Date.now() - started) / 1000).toFixed(1)} s after the request`,
      );
      const reload = await everyReplicaServes(fixture, '3');
      console.log(
        `# retrain (HTTP): every replica served version 3 ${reload.toFixed(1)} s after the Job ended`,
      );
      await sleep(3000);
    } finally {
      summary = await load.stop();
    }
    assertReloaded('retrain (HTTP)', summary, 2, 3);
    const record = (await runs(state.url)).find((r) => r.id === runId);
    assert.equal(record?.outcome, 'published', JSON.stringify(record));
  });
}
