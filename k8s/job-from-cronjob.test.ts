/**
 * The Job built from a CronJob, checked field by field against what
 * `kubectl create job --from=cronjob/...` produces, without a cluster (the same builder runs
 * against a real API server in trigger.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1CronJob } from '@kubernetes/client-node';
import {
  INSTANTIATE_ANNOTATION,
  MODEL_ANNOTATION,
  REASON_ANNOTATION,
  RUN_ID_ANNOTATION,
  jobFromCronJob,
  manualJobName,
} from './index.ts';
import { modelArg } from './job-from-cronjob.ts';

function cronJob(name = 'demo-mscr-retrain'): V1CronJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, namespace: 'ml', uid: 'c0ffee00-0000-4000-8000-000000000001' },
    spec: {
      schedule: '0 3 * * *',
      jobTemplate: {
        metadata: {
          labels: { 'app.kubernetes.io/component': 'retraining', 'app.kubernetes.io/name': 'mscr' },
          annotations: { 'example.com/team': 'ml' },
        },
        spec: {
          backoffLimit: 1,
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'retrain',
                  image: 'mscr:0.1.0',
                  args: ['retrain', '--model', 'cifar10', '--store', 'file:///s', '--data', 'x'],
                  env: [
                    { name: 'MSCR_LOG_LEVEL', value: 'info' },
                    { name: 'MSCR_RETRAIN_TRIGGER', value: 'cron' },
                  ],
                },
              ],
            },
          },
        },
      },
    },
  };
}

describe('jobFromCronJob', () => {
  test('copies the template as kubectl create job --from does', () => {
    const source = cronJob();
    const job = jobFromCronJob(source, 'demo-mscr-retrain-manual-abcde');
    assert.equal(job.apiVersion, 'batch/v1');
    assert.equal(job.kind, 'Job');
    assert.equal(job.metadata?.name, 'demo-mscr-retrain-manual-abcde');
    assert.equal(job.metadata?.namespace, 'ml');
    assert.deepEqual(job.metadata?.labels, source.spec?.jobTemplate.metadata?.labels);
    assert.deepEqual(job.metadata?.ownerReferences, [
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        name: 'demo-mscr-retrain',
        uid: 'c0ffee00-0000-4000-8000-000000000001',
        controller: true,
      },
    ]);
    assert.equal(job.metadata?.annotations?.[INSTANTIATE_ANNOTATION], 'manual');
    assert.equal(job.metadata?.annotations?.['example.com/team'], 'ml');
    assert.equal(job.metadata?.annotations?.[MODEL_ANNOTATION], 'cifar10');
    assert.equal(job.spec?.backoffLimit, 1);
    const container = job.spec?.template.spec?.containers[0];
    assert.deepEqual(
      container?.args,
      source.spec?.jobTemplate.spec?.template.spec?.containers[0]?.args,
    );
    assert.deepEqual(container?.env, [
      { name: 'MSCR_LOG_LEVEL', value: 'info' },
      { name: 'MSCR_RETRAIN_TRIGGER', value: 'kubernetes' },
    ]);
    assert.notEqual(job.spec, source.spec?.jobTemplate.spec, 'the spec is a copy');
  });

  test('sets the model, reason, run id, trigger, env and extra args of the run', () => {
    const source = cronJob();
    const job = jobFromCronJob(source, 'j', {
      model: 'stock-lstm',
      reason: 'drift: PSI 0.31 > 0.2',
      runId: '20261202-101500-ab12',
      trigger: 'request',
      env: { EXTRA: '1' },
      args: ['--alias', 'stable'],
    });
    const container = job.spec?.template.spec?.containers[0];
    assert.deepEqual(container?.args, [
      'retrain',
      '--model',
      'stock-lstm',
      '--store',
      'file:///s',
      '--data',
      'x',
      '--reason',
      'drift: PSI 0.31 > 0.2',
      '--run-id',
      '20261202-101500-ab12',
      '--alias',
      'stable',
    ]);
    assert.deepEqual(container?.env, [
      { name: 'MSCR_LOG_LEVEL', value: 'info' },
      { name: 'MSCR_RETRAIN_TRIGGER', value: 'request' },
      { name: 'EXTRA', value: '1' },
    ]);
    assert.equal(job.metadata?.annotations?.[REASON_ANNOTATION], 'drift: PSI 0.31 > 0.2');
    assert.equal(job.metadata?.annotations?.[RUN_ID_ANNOTATION], '20261202-101500-ab12');
    assert.equal(job.metadata?.annotations?.[MODEL_ANNOTATION], 'stock-lstm');
    // The CronJob read from the API is left as it was.
    assert.equal(source.spec?.jobTemplate.spec?.template.spec?.containers[0]?.args?.[2], 'cifar10');
  });

  test('finds --model in both spellings, and appends it when absent', () => {
    assert.equal(modelArg(['retrain', '--model=a']), 'a');
    assert.equal(modelArg(['retrain', '--model', 'b']), 'b');
    assert.equal(modelArg(['retrain']), undefined);
    const source = cronJob();
    const container = source.spec?.jobTemplate.spec?.template.spec?.containers[0];
    if (container) container.args = ['retrain', '--model=a'];
    const eq = jobFromCronJob(source, 'j', { model: 'b' });
    assert.deepEqual(eq.spec?.template.spec?.containers[0]?.args, ['retrain', '--model=b']);
    if (container) container.args = ['retrain'];
    const appended = jobFromCronJob(source, 'j', { model: 'c' });
    assert.deepEqual(appended.spec?.template.spec?.containers[0]?.args, [
      'retrain',
      '--model',
      'c',
    ]);
  });

  test('refuses a CronJob without uid (not read from the API)', () => {
    const source = cronJob();
    delete source.metadata?.uid;
    assert.throws(() => jobFromCronJob(source, 'j'), /uid/);
  });
});

describe('manualJobName', () => {
  test('is <cronjob>-manual-<5 characters>, unique per call', () => {
    const name = manualJobName('demo-mscr-retrain');
    assert.match(name, /^demo-mscr-retrain-manual-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const names = new Set(Array.from({ length: 50 }, () => manualJobName('demo-mscr-retrain')));
    assert.ok(names.size >= 49, 'random suffixes');
  });

  test('cuts a long CronJob name to fit 63 characters, never ending the head in "-"', () => {
    const long = `${'a'.repeat(40)}-${'b'.repeat(40)}`;
    const name = manualJobName(long, 'xyz12');
    assert.equal(name.length <= 63, true);
    assert.ok(name.endsWith('-manual-xyz12'));
    assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1123 label');
    const cutAtDash = manualJobName(`${'a'.repeat(49)}-zzzz`, 'xyz12');
    assert.equal(cutAtDash, `${'a'.repeat(49)}-manual-xyz12`);
  });
});
