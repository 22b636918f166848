/**
 * Retraining in a cluster, from mscr's own entry points, against a real kube-apiserver with
 * the chart installed (k8s/testing: etcd and kube-apiserver built by scripts/setup-kube.mjs;
 * no nodes, so the Jobs never run: what is checked is what mscr asks the cluster for):
 * `mscr retrain trigger --cronjob` and the Service's Kubernetes launcher (MSCR_RETRAIN_CRONJOB)
 * create a Job from the retraining CronJob as the chart's ServiceAccount, with the run id,
 * trigger kind and reason the run record will carry.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BatchV1Api, KubeConfig, type V1Job } from '@kubernetes/client-node';
import { createKubernetesLauncher } from '../cli/retrain-launcher.ts';
import { createRunStore } from '../connectors/sr/run-store.ts';
import { openObjectStore } from '../connectors/store/index.ts';
import { jobResult, RUN_ID_ANNOTATION } from '../k8s/index.ts';
import { clusterForTests } from '../k8s/testing/cluster-for-tests.ts';
import { installChart } from '../k8s/testing/helm.ts';
import { runMscr } from './run-mscr.ts';

const NS = 'retrain';
const RELEASE = 'prod';
const CRON = `${RELEASE}-mscr-retrain`;
const SA_USER = `system:serviceaccount:${NS}:${RELEASE}-mscr`;

// The Job controller runs so that a Job can really fail (its deadline passes) in the
// reconcile test; with no nodes, pods stay Pending and Jobs stay active otherwise.
const cluster = await clusterForTests({ controllers: ['job-controller'] });
after(() => cluster.plane?.stop());

describe('retraining runs as Kubernetes Jobs', { skip: cluster.skip }, () => {
  let asChart: string;
  let dir: string;
  let batch: BatchV1Api;

  const job = async (name: string): Promise<V1Job> =>
    batch.readNamespacedJob({ name, namespace: NS });
  const envOf = (j: V1Job) =>
    Object.fromEntries(
      (j.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]),
    );

  before(async () => {
    assert.ok(cluster.plane);
    dir = await mkdtemp(join(tmpdir(), 'mscr-k8s-retrain-'));
    installChart(cluster.plane.kubeconfig, RELEASE, NS, [
      // The trigger Role exists only where something triggers runs: the Service's HTTP
      // trigger (bound to the serving ServiceAccount, which these tests act as).
      '--set',
      'retraining.httpTrigger.enabled=true',
      '--set',
      'retraining.httpTrigger.adminTokenSecret.name=mscr-admin',
    ]);
    asChart = cluster.plane.writeKubeconfig(
      'chart-sa',
      { kind: 'admin', impersonate: SA_USER },
      NS,
    );
    const admin = new KubeConfig();
    admin.loadFromFile(cluster.plane.kubeconfig);
    batch = admin.makeApiClient(BatchV1Api);
  });
  after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  test('mscr retrain trigger --cronjob creates the Job as the chart ServiceAccount', async () => {
    const run = await runMscr([
      'retrain',
      'trigger',
      '--cronjob',
      CRON,
      '--namespace',
      NS,
      '--kubeconfig',
      asChart,
      '--model',
      'cifar10-cnn',
      '--reason',
      'drift seen by an operator',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const name = /created Job retrain\/(\S+) from CronJob/.exec(run.stdout)?.[1];
    assert.ok(name, run.stdout);
    const created = await job(name);
    assert.equal(created.metadata?.ownerReferences?.[0]?.name, CRON);
    assert.equal(envOf(created).MSCR_RETRAIN_TRIGGER, 'kubernetes');
    const args = created.spec?.template.spec?.containers[0]?.args ?? [];
    assert.deepEqual(args.slice(0, 3), ['retrain', '--model', 'cifar10-cnn']);
    assert.ok(
      args.includes('--reason') && args.includes('drift seen by an operator'),
      args.join(' '),
    );
    assert.match(
      created.metadata?.annotations?.[RUN_ID_ANNOTATION] ?? '',
      /^\d{8}T\d{6}Z-[0-9a-f]{8}$/,
    );
  });

  test("the Service's Kubernetes launcher starts a run as a Job with its run id; a second one for the model is a conflict", async () => {
    const launcher = createKubernetesLauncher({
      store: `file://${join(dir, 'models')}`,
      cronJobName: CRON,
      namespace: NS,
      kubeconfig: asChart,
    });
    const { runId } = await launcher.start('prices', { kind: 'request', reason: 'POST retrain' });
    const jobs = await batch.listNamespacedJob({ namespace: NS });
    const created = jobs.items.find((j) => j.metadata?.annotations?.[RUN_ID_ANNOTATION] === runId);
    assert.ok(created, `no Job carries run id ${runId}`);
    assert.equal(envOf(created).MSCR_RETRAIN_TRIGGER, 'request');
    const args = created.spec?.template.spec?.containers[0]?.args ?? [];
    assert.ok(args.includes('--run-id') && args.includes(runId), args.join(' '));
    await assert.rejects(launcher.start('prices', { kind: 'request' }), { code: 'conflict' });
    // Nothing ran yet (no nodes): the only record is the launcher's own "starting" one, so
    // GET /mscr/train/{id} finds the run before its pod does; the conflict left none.
    const records = await launcher.runs('prices');
    assert.deepEqual(
      records.map((r) => [r.id, r.outcome, r.message]),
      [[runId, 'running', 'starting']],
    );
    assert.equal((await launcher.run?.('prices', runId))?.id, runId);

    // POST /mscr/train: the run's plan rides on the Job's args (--run-data replaces --data).
    const trained = await launcher.start(
      'prices-search',
      { kind: 'request', reason: 'POST /mscr/train' },
      {
        data: ['s3://data/goog.csv'],
        architecture: 'linear',
        hyperparameters: { epochs: 2 },
        search: { mode: 'grid', space: { learningRate: [0.001, 0.01] }, trials: 2 },
      },
    );
    const planned = (await batch.listNamespacedJob({ namespace: NS })).items.find(
      (j) => j.metadata?.annotations?.[RUN_ID_ANNOTATION] === trained.runId,
    );
    const plannedArgs = planned?.spec?.template.spec?.containers[0]?.args ?? [];
    const tail = plannedArgs.slice(plannedArgs.indexOf('--run-data'));
    assert.deepEqual(tail, [
      '--run-data',
      's3://data/goog.csv',
      '--arch',
      'linear',
      '--epochs',
      '2',
      '--candidates',
      '2',
      '--search-mode',
      'grid',
      '--search',
      'learningRate=0.001,0.01',
    ]);
  });

  test('a Job that failed while its run held the lease is reconciled: run failed, lease released, the next run starts', async () => {
    const store = `file://${join(dir, 'models')}`;
    const launcher = createKubernetesLauncher({
      store,
      cronJobName: CRON,
      namespace: NS,
      kubeconfig: asChart,
    });
    const { runId } = await launcher.start('goog', { kind: 'request' });
    // What the Job's pod does first: take the lease and record the run as running. Then it
    // is killed before it can settle (no node runs pods here, so the test plays the pod).
    const runs = createRunStore(openObjectStore(store));
    await runs.acquire('goog', runId, 3_600_000);
    await runs.save({
      id: runId,
      model: 'goog',
      trigger: { kind: 'request' },
      startedAt: new Date().toISOString(),
      outcome: 'running',
    });
    // While its Job is active, the lease stands.
    await assert.rejects(launcher.start('goog', { kind: 'request' }), {
      code: 'conflict',
      message: new RegExp(`run ${runId} .*Job `),
    });
    // The Job fails for real: its deadline passes and the Job controller marks it Failed.
    const jobs = await batch.listNamespacedJob({ namespace: NS });
    const created = jobs.items.find((j) => j.metadata?.annotations?.[RUN_ID_ANNOTATION] === runId);
    assert.ok(created?.metadata?.name && created.spec);
    created.spec.activeDeadlineSeconds = 1;
    await batch.replaceNamespacedJob({ name: created.metadata.name, namespace: NS, body: created });
    const deadline = Date.now() + 60_000;
    while (jobResult(await job(created.metadata.name))?.outcome !== 'failed') {
      assert.ok(Date.now() < deadline, 'the Job controller did not fail the Job in 60 s');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const next = await launcher.start('goog', { kind: 'request' });
    assert.notEqual(next.runId, runId);
    const record = (await runs.list('goog')).find((r) => r.id === runId);
    assert.equal(record?.outcome, 'failed');
    assert.match(
      record?.message ?? '',
      new RegExp(
        `Job ${created.metadata.name} failed \\(DeadlineExceeded\\) before the run recorded an outcome`,
      ),
    );
    assert.equal((await runs.current('goog'))?.runId, undefined);
  });

  test('a denied verb says what the ServiceAccount lacks', async () => {
    assert.ok(cluster.plane);
    const intruder = cluster.plane.writeKubeconfig(
      'intruder',
      { kind: 'admin', impersonate: `system:serviceaccount:${NS}:default` },
      NS,
    );
    const run = await runMscr([
      'retrain',
      'trigger',
      '--cronjob',
      CRON,
      '--namespace',
      NS,
      '--kubeconfig',
      intruder,
      '--model',
      'cifar10-cnn',
    ]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /forbidden|cannot get/i);
  });
});
