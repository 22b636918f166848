/**
 * The retraining launcher `mscr serve` gives the Service (SR connector), chosen from the
 * configuration: none (the endpoint answers 501), a child process of `mscr retrain` on this
 * machine (`MSCR_RETRAIN_DATA`), or in a cluster a Job from the chart's retraining CronJob
 * (`MSCR_RETRAIN_CRONJOB`).
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RetrainLauncher } from '../connectors/sr/index.ts';
import { createRunStore } from '../connectors/sr/run-store.ts';
import { openObjectStore } from '../connectors/store/index.ts';
import { createKubernetesTrigger } from '../k8s/index.ts';
import { createProcessLauncher } from '../retraining/launcher.ts';
import { newRunId } from '../connectors/sr/run-store.ts';

export interface LauncherSettings {
  store: string;
  /** Base training data of every run (paths or URIs). */
  data: string[];
  /** More `mscr retrain` arguments, e.g. `--epochs 5 --alias stable`. */
  extraArgs: string[];
  logDir?: string;
}

/** bin/mscr.js: one folder up from the sources, two up from dist/cli. */
const BIN =
  ['../bin/mscr.js', '../../bin/mscr.js']
    .map((candidate) => fileURLToPath(new URL(candidate, import.meta.url)))
    .find((file) => existsSync(file)) ?? 'mscr';

/** Splits `MSCR_RETRAIN_ARGS` on whitespace (no quoting: arguments with spaces need flags). */
export function splitArgs(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter((arg) => arg !== '');
}

export function createLocalLauncher(settings: LauncherSettings): RetrainLauncher {
  return createProcessLauncher({
    runs: createRunStore(openObjectStore(settings.store)),
    logDir: settings.logDir ?? path.join(tmpdir(), 'mscr-retrain-logs'),
    command: (model, runId, trigger) => ({
      file: process.execPath,
      args: [
        BIN,
        'retrain',
        '--model',
        model,
        '--store',
        settings.store,
        '--data',
        settings.data.join(','),
        '--trigger',
        trigger.kind,
        '--run-id',
        runId,
        ...(trigger.reason ? ['--reason', trigger.reason] : []),
        ...settings.extraArgs,
        '--quiet',
      ],
    }),
  });
}

/**
 * In a cluster: each run is a Job created from the chart's retraining CronJob (with the
 * chart's least-privilege Role), recorded like any other run in the store's run records.
 */
export function createKubernetesLauncher(settings: {
  store: string;
  cronJobName: string;
  namespace?: string;
  /** Default: $KUBECONFIG, else the pod's ServiceAccount. */
  kubeconfig?: string;
}): RetrainLauncher {
  const kube = createKubernetesTrigger({
    cronJobName: settings.cronJobName,
    ...(settings.namespace ? { namespace: settings.namespace } : {}),
    ...(settings.kubeconfig ? { kubeconfig: settings.kubeconfig } : {}),
  });
  const runs = createRunStore(openObjectStore(settings.store));
  return {
    async start(model, trigger) {
      const runId = newRunId();
      await kube.trigger({
        model,
        runId,
        trigger: trigger.kind,
        ...(trigger.reason ? { reason: trigger.reason } : {}),
      });
      return { runId };
    },
    runs: (model, options) => runs.list(model, options),
  };
}
