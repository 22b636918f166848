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
import type { RetrainLauncher, RetrainRun } from '../connectors/sr/index.ts';
import { createRunStore, newRunId } from '../connectors/sr/run-store.ts';
import { planArgs } from '../connectors/sr/train.ts';
import { openObjectStore } from '../connectors/store/index.ts';
import { createKubernetesTrigger } from '../k8s/index.ts';
import { MscrError } from '../connectors/errors.ts';
import { createProcessLauncher, settleDeadRun, startingRecord } from '../retraining/launcher.ts';
import { createProcessEvaluator } from '../retraining/evaluator.ts';
import type { ModelEvaluator } from '../connectors/sr/train.ts';

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
    command: (model, runId, trigger, plan) => ({
      file: process.execPath,
      args: [
        BIN,
        'retrain',
        '--model',
        model,
        '--store',
        settings.store,
        // A training request's own data (--run-data, in planArgs) replaces the base data.
        ...(settings.data.length > 0 ? ['--data', settings.data.join(',')] : []),
        '--trigger',
        trigger.kind,
        '--run-id',
        runId,
        ...(trigger.reason ? ['--reason', trigger.reason] : []),
        ...settings.extraArgs,
        ...planArgs(plan),
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
  /**
   * Reconciles the model's lease with its Job: a Job that has finished while its run still
   * holds the lease had its pod killed before the run could settle (OOM, eviction, a node
   * lost), so the run is recorded as failed and the lease released now, instead of blocking
   * retraining until the lease expires. A lease whose Job still runs, or that no Job of ours
   * carries (a scheduled run, a run on another machine), stands: a conflict naming it.
   */
  async function reconcile(model: string, trigger: RetrainRun['trigger']): Promise<void> {
    const lease = await runs.current(model);
    if (lease === undefined || Date.parse(lease.expiresAt) <= Date.now()) return;
    const job = await kube.runJob(lease.runId);
    if (job?.result === undefined) {
      throw new MscrError(
        'conflict',
        `a retraining run for ${model} is already running (run ${lease.runId} on ${lease.holder}${job ? `, Job ${job.jobName}` : ''})`,
      );
    }
    const { outcome, reason } = job.result;
    await settleDeadRun(
      runs,
      { model, runId: lease.runId, trigger },
      `Job ${job.jobName} ${outcome}${reason ? ` (${reason})` : ''} before the run recorded an outcome`,
    );
  }
  return {
    async start(model, trigger, plan) {
      await reconcile(model, trigger);
      const runId = newRunId();
      // A training request's plan rides on the Job's args after the CronJob's own (later
      // flags win; --run-data replaces the template's --data).
      const args = planArgs(plan);
      await kube.trigger({
        model,
        runId,
        trigger: trigger.kind,
        ...(trigger.reason ? { reason: trigger.reason } : {}),
        ...(args.length > 0 ? { args } : {}),
      });
      // A record at once (unless the Job's pod already wrote its own), so the run can be
      // looked up before the pod is scheduled; `reconcile` fails it if the Job dies first.
      if ((await runs.get(model, runId)) === undefined) {
        await runs.save(startingRecord(model, runId, trigger, plan)).catch(() => undefined);
      }
      return { runId };
    },
    runs: (model, options) => runs.list(model, options),
    run: (model, runId) => runs.get(model, runId),
  };
}

/**
 * The evaluator of `POST /mscr/models/{m}/evaluate`: each evaluation a child `mscr evaluate
 * --json` on this machine (in a cluster too: it is bounded in time and count, and reads
 * the version from the store like the serving pods do).
 */
export function createLocalEvaluator(settings: {
  store: string;
  timeoutMs?: number;
  maxConcurrent?: number;
  backend?: string;
}): ModelEvaluator {
  return createProcessEvaluator({
    ...(settings.timeoutMs !== undefined ? { timeoutMs: settings.timeoutMs } : {}),
    ...(settings.maxConcurrent !== undefined ? { maxConcurrent: settings.maxConcurrent } : {}),
    command: (model, request) => ({
      file: process.execPath,
      args: [
        BIN,
        'evaluate',
        '--model',
        model,
        '--store',
        settings.store,
        '--version',
        String(request.version ?? 'latest'),
        '--data',
        request.data.join(','),
        ...(request.limit !== undefined ? ['--limit', String(request.limit)] : []),
        ...(settings.backend ? ['--backend', settings.backend] : []),
        '--json',
      ],
    }),
  });
}
