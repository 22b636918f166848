/**
 * The chart's retraining CronJob under the real CronJob and Job controllers of
 * kube-controller-manager: on an every-minute schedule a Job appears within the next minute,
 * and the Job controller creates its pod (which stays Pending: there are no nodes). The
 * trigger then refuses a manual run of the same model while the scheduled one is active.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1Job } from '@kubernetes/client-node';
import { isMscrError } from '../connectors/errors.ts';
import { createKubernetesTrigger } from './index.ts';
import { clusterForTests } from './testing/cluster-for-tests.ts';
import { eventually } from './testing/kube-objects.ts';

const root = resolve(import.meta.dirname, '..');
const NS = 'ml';
const CRON = 'demo-mscr-retrain';
/** A minute to the next schedule, plus the controller's resync and a slow machine. */
const SCHEDULE_WAIT_MS = 150_000;

const cluster = await clusterForTests({ controllers: ['cronjob-controller', 'job-controller'] });
after(() => cluster.plane?.stop());

describe('the CronJob controller runs the retraining CronJob', { skip: cluster.skip }, () => {
  let batch: BatchV1Api;
  let core: CoreV1Api;

  before(() => {
    assert.ok(cluster.plane);
    const helm = spawnSync(
      join(root, '.tools', 'bin', 'helm'),
      [
        'install',
        'demo',
        join(root, 'helm', 'mscr'),
        '-n',
        NS,
        '--create-namespace',
        '--set',
        'retraining.schedule=* * * * *',
        '--kubeconfig',
        cluster.plane.kubeconfig,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(helm.status, 0, `helm install: ${helm.stderr}`);
    const config = new KubeConfig();
    config.loadFromFile(cluster.plane.kubeconfig);
    batch = config.makeApiClient(BatchV1Api);
    core = config.makeApiClient(CoreV1Api);
  });

  test('a scheduled Job appears within a minute, and the Job controller creates its pod', async () => {
    const cron = await batch.readNamespacedCronJob({ name: CRON, namespace: NS });
    const started = Date.now();
    const job = await eventually<V1Job>(
      'a Job created by the CronJob controller',
      async () => {
        const jobs = await batch.listNamespacedJob({ namespace: NS });
        return jobs.items.find((j) =>
          j.metadata?.ownerReferences?.some((o) => o.uid === cron.metadata?.uid && o.controller),
        );
      },
      SCHEDULE_WAIT_MS,
      1000,
    );
    console.log(
      `scheduled Job ${job.metadata?.name} after ${Math.round((Date.now() - started) / 1000)} s`,
    );
    const annotations = job.metadata?.annotations ?? {};
    assert.ok(
      annotations['batch.kubernetes.io/cronjob-scheduled-timestamp'],
      'scheduled, not manual',
    );
    assert.equal(annotations['cronjob.kubernetes.io/instantiate'], undefined);
    assert.equal(job.metadata?.labels?.['app.kubernetes.io/component'], 'retraining');

    const pod = await eventually(
      'the Job controller creates the pod',
      async () => {
        const pods = await core.listNamespacedPod({
          namespace: NS,
          labelSelector: `batch.kubernetes.io/controller-uid=${job.metadata?.uid}`,
        });
        return pods.items[0];
      },
      60_000,
    );
    // Retraining pods run as their own ServiceAccount, not the serving one (issue 15.7).
    assert.equal(pod.spec?.serviceAccountName, 'demo-mscr-retrain');
    assert.equal(pod.status?.phase, 'Pending', 'no node runs it');
    const status = await eventually(
      'the CronJob records the active Job',
      async () => {
        const c = await batch.readNamespacedCronJob({ name: CRON, namespace: NS });
        return c.status?.active?.some((a) => a.name === job.metadata?.name) ? c.status : undefined;
      },
      30_000,
    );
    assert.ok(status.lastScheduleTime, 'lastScheduleTime set');

    // The trigger sees the scheduled run and refuses a second one for the same model.
    const trigger = createKubernetesTrigger({
      kubeconfig: cluster.plane?.kubeconfig,
      namespace: NS,
      cronJobName: CRON,
    });
    await assert.rejects(trigger.trigger({ reason: 'manual' }), (e) => {
      assert.ok(isMscrError(e, 'conflict'), String(e));
      assert.ok(e.message.includes(job.metadata?.name ?? '?'), e.message);
      return true;
    });
  });
});
