/**
 * The retraining trigger against a real kube-apiserver with the chart installed: it runs as
 * the chart's ServiceAccount (impersonated, or with a token from the TokenRequest API read as
 * in a pod) with only the RBAC the chart grants. No controller manager runs here, so the Jobs
 * stay as created, and `wait` is driven by writing their status subresource as the Job
 * controller would (cronjob-controller.test.ts runs the real controllers).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import type { V1Job } from '@kubernetes/client-node';
import { isMscrError } from '../connectors/errors.ts';
import { kubernetesError } from './errors.ts';
import { INSTANTIATE_ANNOTATION, REASON_ANNOTATION, createKubernetesTrigger } from './index.ts';
import type { JobProgress, KubernetesTrigger } from './index.ts';
import { clusterForTests } from './testing/cluster-for-tests.ts';
import { installChart } from './testing/helm.ts';

const NS = 'ml';
const RELEASE = 'demo';
const CRON = `${RELEASE}-mscr-retrain`;
const SA = `${RELEASE}-mscr`;
const SA_USER = `system:serviceaccount:${NS}:${SA}`;

const cluster = await clusterForTests();
after(() => cluster.plane?.stop());

function admin(): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(cluster.plane?.kubeconfig ?? '');
  return config;
}

/** A kubeconfig that impersonates `user` (the admin may impersonate anyone). */
function impersonating(user: string): string {
  assert.ok(cluster.plane);
  return cluster.plane.writeKubeconfig(
    user.replaceAll(':', '_'),
    { kind: 'admin', impersonate: user },
    NS,
  );
}

/** Writes the Job's status as the Job controller does when it ends. */
async function finishJob(name: string, outcome: 'Complete' | 'Failed'): Promise<V1Job> {
  const batch = admin().makeApiClient(BatchV1Api);
  const job = await batch.readNamespacedJob({ name, namespace: NS });
  const start = new Date(Date.now() - 90_000);
  const now = new Date();
  const condition = (type: string, reason: string, message: string) => ({
    type,
    status: 'True',
    reason,
    message,
    lastProbeTime: now,
    lastTransitionTime: now,
  });
  job.status =
    outcome === 'Complete'
      ? {
          startTime: start,
          completionTime: now,
          succeeded: 1,
          active: 0,
          ready: 0,
          terminating: 0,
          conditions: [
            condition(
              'SuccessCriteriaMet',
              'CompletionsReached',
              'Reached expected number of succeeded pods',
            ),
            condition(
              'Complete',
              'CompletionsReached',
              'Reached expected number of succeeded pods',
            ),
          ],
        }
      : {
          startTime: start,
          failed: 2,
          active: 0,
          ready: 0,
          terminating: 0,
          conditions: [
            condition(
              'FailureTarget',
              'BackoffLimitExceeded',
              'Job has reached the specified backoff limit',
            ),
            condition(
              'Failed',
              'BackoffLimitExceeded',
              'Job has reached the specified backoff limit',
            ),
          ],
        };
  return batch.replaceNamespacedJobStatus({ name, namespace: NS, body: job });
}

/** A failed pod of the Job, with the container's exit code, as a kubelet would report it. */
async function failedPod(job: V1Job, exitCode: number): Promise<void> {
  const core = admin().makeApiClient(CoreV1Api);
  const uid = job.metadata?.uid ?? '';
  const name = `${job.metadata?.name}-x1`;
  await core.createNamespacedPod({
    namespace: NS,
    body: {
      metadata: {
        name,
        labels: {
          'batch.kubernetes.io/controller-uid': uid,
          'batch.kubernetes.io/job-name': job.metadata?.name ?? '',
        },
      },
      spec: {
        restartPolicy: 'Never',
        serviceAccountName: SA,
        automountServiceAccountToken: false,
        containers: [{ name: 'retrain', image: 'mscr:0.1.0' }],
      },
    },
  });
  const pod = await core.readNamespacedPod({ name, namespace: NS });
  const now = new Date();
  pod.status = {
    phase: 'Failed',
    containerStatuses: [
      {
        name: 'retrain',
        image: 'mscr:0.1.0',
        imageID: '',
        ready: false,
        restartCount: 0,
        state: {
          terminated: {
            exitCode,
            reason: 'Error',
            message: 'bad data: no rows',
            startedAt: now,
            finishedAt: now,
          },
        },
      },
    ],
  };
  await core.replaceNamespacedPodStatus({ name, namespace: NS, body: pod });
}

describe('the retraining trigger against a real kube-apiserver', { skip: cluster.skip }, () => {
  let asChartSa: KubernetesTrigger;

  before(async () => {
    assert.ok(cluster.plane);
    installChart(cluster.plane.kubeconfig, RELEASE, NS, [
      // The trigger Role exists only where something triggers runs: the Service's HTTP
      // trigger (bound to the serving ServiceAccount, which these tests act as).
      '--set',
      'retraining.httpTrigger.enabled=true',
      '--set',
      'retraining.httpTrigger.adminTokenSecret.name=mscr-admin',
    ]);
    // A ServiceAccount the chart's RoleBinding does not name, and one with a Role that lacks create.
    const config = admin();
    const core = config.makeApiClient(CoreV1Api);
    const rbac = config.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({
      namespace: NS,
      body: { metadata: { name: 'intruder' } },
    });
    // A ServiceAccount with its own Role in the namespace.
    const withRole = async (name: string, jobVerbs: string[]) => {
      await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name } } });
      await rbac.createNamespacedRole({
        namespace: NS,
        body: {
          metadata: { name },
          rules: [
            { apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['get'] },
            { apiGroups: ['batch'], resources: ['jobs'], verbs: jobVerbs },
          ],
        },
      });
      await rbac.createNamespacedRoleBinding({
        namespace: NS,
        body: {
          metadata: { name },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
          subjects: [{ kind: 'ServiceAccount', name, namespace: NS }],
        },
      });
    };
    await withRole('reader', ['get', 'list', 'watch']); // no create
    await withRole('poller', ['create', 'get', 'list']); // no watch
    asChartSa = createKubernetesTrigger({
      kubeconfig: impersonating(SA_USER),
      cronJobName: CRON,
      pollIntervalMs: 60_000, // so a quick `wait` proves that the watch, not polling, saw the change
    });
  });

  test('creates a Job from the CronJob as `kubectl create job --from` does, as the chart SA', async () => {
    assert.equal(asChartSa.namespace, NS, 'namespace from the kubeconfig context');
    const started = await asChartSa.trigger({ model: 'cifar10-cnn', reason: 'drift: PSI 0.31' });
    assert.match(started.jobName, new RegExp(`^${CRON}-manual-[a-z0-9]{5}$`));
    assert.equal(started.model, 'cifar10-cnn');
    const batch = admin().makeApiClient(BatchV1Api);
    const cron = await batch.readNamespacedCronJob({ name: CRON, namespace: NS });
    const job = await batch.readNamespacedJob({ name: started.jobName, namespace: NS });
    assert.equal(job.metadata?.uid, started.uid);
    const owners = job.metadata?.ownerReferences?.map((o) => ({ ...o }));
    assert.deepEqual(owners, [
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        name: CRON,
        uid: cron.metadata?.uid,
        controller: true,
      },
    ]);
    for (const [key, value] of Object.entries(cron.spec?.jobTemplate.metadata?.labels ?? {})) {
      assert.equal(job.metadata?.labels?.[key], value, `label ${key}`);
    }
    assert.equal(job.metadata?.annotations?.[INSTANTIATE_ANNOTATION], 'manual');
    assert.equal(job.metadata?.annotations?.[REASON_ANNOTATION], 'drift: PSI 0.31');
    const template = cron.spec?.jobTemplate.spec;
    assert.equal(job.spec?.backoffLimit, template?.backoffLimit);
    assert.equal(job.spec?.activeDeadlineSeconds, template?.activeDeadlineSeconds);
    assert.equal(job.spec?.ttlSecondsAfterFinished, template?.ttlSecondsAfterFinished);
    const pod = job.spec?.template.spec;
    // The Job's pods run as the retraining ServiceAccount, not the trigger's (issue 15.7).
    assert.equal(pod?.serviceAccountName, `${RELEASE}-mscr-retrain`);
    assert.deepEqual(pod?.containers[0]?.args, [
      ...(template?.template.spec?.containers[0]?.args ?? []),
      '--reason',
      'drift: PSI 0.31',
    ]);
    const env = new Map(pod?.containers[0]?.env?.map((e) => [e.name, e.value]));
    assert.equal(env.get('MSCR_RETRAIN_TRIGGER'), 'kubernetes');
    // The API server's Job defaulting ran: a generated selector on the Job's uid.
    assert.equal(
      job.spec?.selector?.matchLabels?.['batch.kubernetes.io/controller-uid'],
      job.metadata?.uid,
    );
  });

  test('a second run of the same model while one runs is refused as a conflict', async () => {
    await assert.rejects(asChartSa.trigger({ reason: 'again' }), (e) => {
      assert.ok(isMscrError(e, 'conflict'), String(e));
      assert.match(
        e.message,
        /for model "cifar10-cnn" is still running \(demo-mscr-retrain-manual-/,
      );
      return true;
    });
    const other = await asChartSa.trigger({ model: 'stock-lstm' });
    assert.equal(other.model, 'stock-lstm');
    const forced = await asChartSa.trigger({ model: 'stock-lstm', allowConcurrent: true });
    assert.notEqual(forced.jobName, other.jobName);
  });

  test('in a pod: the ServiceAccount token from the TokenRequest API, read as in-cluster config', async () => {
    assert.ok(cluster.plane);
    const core = admin().makeApiClient(CoreV1Api);
    const request = await core.createNamespacedServiceAccountToken({
      name: SA,
      namespace: NS,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const podRoot = join(cluster.plane.dir, 'pod');
    const mounted = join(podRoot, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(mounted, { recursive: true });
    writeFileSync(join(mounted, 'token'), request.status?.token ?? '');
    writeFileSync(join(mounted, 'ca.crt'), readFileSync(cluster.plane.pki.ca.cert));
    writeFileSync(join(mounted, 'namespace'), NS);
    const saved = { ...process.env };
    const port = new URL(cluster.plane.server).port;
    Object.assign(process.env, {
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: port,
    });
    delete process.env.KUBECONFIG;
    try {
      const inPod = createKubernetesTrigger({ cronJobName: CRON, inClusterRoot: podRoot });
      assert.equal(inPod.namespace, NS);
      const { jobName } = await inPod.trigger({ model: 'in-pod', reason: 'request' });
      const job = await admin()
        .makeApiClient(BatchV1Api)
        .readNamespacedJob({ name: jobName, namespace: NS });
      assert.equal(job.metadata?.ownerReferences?.[0]?.name, CRON);
    } finally {
      process.env = saved;
    }
  });

  test('forbidden: a ServiceAccount outside the chart RoleBinding is told what it lacks', async () => {
    const intruder = createKubernetesTrigger({
      kubeconfig: impersonating(`system:serviceaccount:${NS}:intruder`),
      cronJobName: CRON,
    });
    await assert.rejects(intruder.trigger({ reason: 'x' }), (e) => {
      assert.ok(isMscrError(e, 'config'), String(e));
      assert.equal(e.status, 403);
      assert.match(
        e.message,
        /^forbidden: the ServiceAccount "intruder" of namespace "ml" lacks the RBAC verb "get" on cronjobs\.batch "demo-mscr-retrain" in namespace "ml"/,
      );
      assert.match(e.message, /Role "demo-mscr-retrain-trigger" grants/);
      return true;
    });
    const reader = createKubernetesTrigger({
      kubeconfig: impersonating(`system:serviceaccount:${NS}:reader`),
      cronJobName: CRON,
    });
    await assert.rejects(reader.trigger({ model: 'reader-model' }), (e) => {
      assert.ok(isMscrError(e, 'config') && e.status === 403, String(e));
      assert.match(
        e.message,
        /lacks the RBAC verb "create" on jobs\.batch "demo-mscr-retrain-manual-\w{5}"/,
      );
      return true;
    });
  });

  test("forbidden: the chart's least RBAC does not let its ServiceAccount delete the CronJob", async () => {
    const config = new KubeConfig();
    config.loadFromFile(impersonating(SA_USER));
    const batch = config.makeApiClient(BatchV1Api);
    const error = await batch.deleteNamespacedCronJob({ name: CRON, namespace: NS }).then(
      () => assert.fail('deleting the CronJob should be denied'),
      (e: unknown) => e,
    );
    const mapped = kubernetesError(error, {
      verb: 'delete',
      resource: 'cronjobs',
      group: 'batch',
      namespace: NS,
      name: CRON,
      server: config.getCurrentCluster()?.server ?? '',
    });
    assert.equal(mapped.status, 403);
    assert.match(
      mapped.message,
      /ServiceAccount "demo-mscr" of namespace "ml" lacks the RBAC verb "delete" on cronjobs\.batch "demo-mscr-retrain"/,
    );
  });

  test('a CronJob that does not exist is not_found, with what to check', async () => {
    const trigger = createKubernetesTrigger({
      kubeconfig: cluster.plane?.kubeconfig,
      namespace: NS,
      cronJobName: 'nope-retrain',
    });
    await assert.rejects(trigger.trigger(), (e) => {
      assert.ok(isMscrError(e, 'not_found'), String(e));
      assert.match(
        e.message,
        /cronjobs\.batch "nope-retrain" in namespace "ml" not found: is mscr installed/,
      );
      return true;
    });
  });

  describe('wait', () => {
    test('follows a Job to Complete through the watch', async () => {
      const { jobName } = await asChartSa.trigger({ model: 'wait-ok' });
      const progress: JobProgress[] = [];
      const waiting = asChartSa.wait(jobName, {
        timeoutMs: 30_000,
        onProgress: (p) => progress.push(p),
      });
      await new Promise((r) => setTimeout(r, 500));
      const written = Date.now();
      await finishJob(jobName, 'Complete');
      const result = await waiting;
      assert.ok(Date.now() - written < 10_000, 'seen through the watch, not the 60 s poll');
      assert.equal(result.outcome, 'succeeded');
      assert.equal(result.jobName, jobName);
      assert.equal(result.namespace, NS);
      assert.equal(result.reason, 'CompletionsReached');
      assert.equal(result.succeeded, 1);
      assert.ok(
        result.durationMs !== undefined && result.durationMs >= 89_000,
        `duration ${result.durationMs}`,
      );
      assert.ok(progress.length >= 1 && progress[0]?.jobName === jobName);
      // Finished, it no longer blocks a new run of the same model.
      await asChartSa.trigger({ model: 'wait-ok' });
    });

    test('reports a Failed Job with its reason, and the pod exit code when pods can be read', async () => {
      const { jobName } = await asChartSa.trigger({ model: 'wait-fail' });
      const waiting = asChartSa.wait(jobName, { timeoutMs: 30_000 });
      const job = await finishJob(jobName, 'Failed');
      await failedPod(job, 3);
      const result = await waiting;
      assert.equal(result.outcome, 'failed');
      assert.equal(result.reason, 'BackoffLimitExceeded');
      assert.match(result.message ?? '', /backoff limit/);
      assert.equal(result.failed, 2);
      assert.equal(result.podFailure, undefined, "the chart's Role grants no access to pods");
      const asAdmin = createKubernetesTrigger({
        kubeconfig: cluster.plane?.kubeconfig,
        namespace: NS,
        cronJobName: CRON,
      });
      const detailed = await asAdmin.wait(jobName, { timeoutMs: 5000 });
      assert.deepEqual(detailed.podFailure, {
        pod: `${jobName}-x1`,
        reason: 'Error',
        message: 'bad data: no rows',
        exitCode: 3,
      });
    });

    test('without the watch verb it falls back to polling', async () => {
      const poller = createKubernetesTrigger({
        kubeconfig: impersonating(`system:serviceaccount:${NS}:poller`),
        cronJobName: CRON,
        pollIntervalMs: 200,
      });
      const { jobName } = await poller.trigger({ model: 'wait-poll' });
      const waiting = poller.wait(jobName, { timeoutMs: 30_000 });
      await new Promise((r) => setTimeout(r, 500));
      const written = Date.now();
      await finishJob(jobName, 'Complete');
      const result = await waiting;
      assert.equal(result.outcome, 'succeeded');
      assert.ok(Date.now() - written < 5000, 'seen by the 200 ms poll');
    });

    test('gives up after the timeout with what the Job is doing', async () => {
      const { jobName } = await asChartSa.trigger({ model: 'wait-timeout' });
      const started = Date.now();
      await assert.rejects(asChartSa.wait(jobName, { timeoutMs: 1500 }), (e) => {
        assert.ok(isMscrError(e, 'unavailable'), String(e));
        assert.match(
          e.message,
          new RegExp(`Job "${jobName}" in namespace "ml" did not finish within 2 s`),
        );
        return true;
      });
      assert.ok(Date.now() - started < 10_000);
    });

    test('a Job that does not exist is not_found', async () => {
      await assert.rejects(asChartSa.wait('no-such-job', { timeoutMs: 1000 }), (e) =>
        isMscrError(e, 'not_found'),
      );
    });
  });
});
