/**
 * The in-cluster retraining trigger: starts a Job from the retraining CronJob as
 * `kubectl create job --from=cronjob/<name>` does, then follows it to its end.
 *
 * It needs only what the chart's Role `<release>-mscr-retrain-trigger` grants: get on the
 * CronJob; create, get, list and watch on Jobs. Pod details of a failed Job are read when the
 * identity may list pods, and left out otherwise.
 */
import { BatchV1Api, CoreV1Api, Watch } from '@kubernetes/client-node';
import type { V1CronJob, V1Job } from '@kubernetes/client-node';
import { MscrError } from '../connectors/errors.ts';
import { kubernetesError } from './errors.ts';
import type { ApiCall } from './errors.ts';
import {
  MODEL_ANNOTATION,
  jobFromCronJob,
  manualJobName,
  modelArg,
  retrainContainer,
  RUN_ID_ANNOTATION,
} from './job-from-cronjob.ts';
import type { RunRequest } from './job-from-cronjob.ts';
import { jobProgress, jobResult, podFailure } from './job-result.ts';
import type { JobProgress, JobResult } from './job-result.ts';
import { loadKubeConfig } from './kubeconfig.ts';
import type { KubeConfigOptions } from './kubeconfig.ts';

export interface KubernetesTriggerOptions extends KubeConfigOptions {
  /** Name of the retraining CronJob (the chart's `<release>-mscr-retrain`). */
  cronJobName: string;
  /** How often `wait` reads the Job when it cannot watch it; default 2 s. */
  pollIntervalMs?: number;
}

export interface TriggerRequest extends RunRequest {
  /**
   * Start even while a Job of this CronJob for the same model is still running. Off by
   * default: the chart's CronJob forbids concurrent runs, and manual runs honour that.
   */
  allowConcurrent?: boolean;
}

export interface TriggeredJob {
  jobName: string;
  namespace: string;
  uid: string;
  /** The model the Job retrains (its `--model` argument). */
  model?: string;
}

export interface WaitOptions {
  /** Give up after this long (an MscrError 'unavailable'); default one hour. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with the Job's counts each time it changes while it runs. */
  onProgress?: (progress: JobProgress) => void;
}

export interface KubernetesTrigger {
  readonly namespace: string;
  readonly cronJobName: string;
  /** The API server's URL. */
  readonly server: string;
  /** Creates a Job from the CronJob's template and returns its name. */
  trigger(request?: TriggerRequest): Promise<TriggeredJob>;
  /** Follows a Job until it succeeds or fails. */
  wait(jobName: string, options?: WaitOptions): Promise<JobResult>;
  /**
   * The Job that carries a run id (the `mscr/retrain-run-id` annotation a launcher sets),
   * with its outcome when it has finished; undefined when no Job carries it.
   */
  runJob(runId: string): Promise<{ jobName: string; result?: JobResult } | undefined>;
}

/** Longest single watch request; `wait` re-reads the Job and watches again after it. */
const WATCH_SLICE_MS = 5 * 60_000;
const NAME_ATTEMPTS = 3;

export function createKubernetesTrigger(options: KubernetesTriggerOptions): KubernetesTrigger {
  const { config, namespace, server } = loadKubeConfig(options);
  const { cronJobName, pollIntervalMs = 2000 } = options;
  const batch = config.makeApiClient(BatchV1Api);
  const core = config.makeApiClient(CoreV1Api);
  const rbacHint =
    `the mscr chart's Role "${cronJobName}-trigger" grants get on this CronJob and ` +
    `create/get/list/watch on Jobs to the chart's ServiceAccount: install the chart with ` +
    `retraining.rbac.create=true and run the trigger as that ServiceAccount, or add yours to ` +
    `retraining.rbac.extraSubjects`;
  const call = (verb: ApiCall['verb'], resource: string, name?: string): ApiCall => ({
    verb,
    resource,
    group: resource === 'pods' ? '' : 'batch',
    namespace,
    name,
    server,
    rbacHint,
  });

  async function api<T>(what: ApiCall, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw kubernetesError(error, what);
    }
  }

  async function readCronJob(): Promise<V1CronJob> {
    const what = {
      ...call('get', 'cronjobs', cronJobName),
      notFoundHint:
        `is mscr installed in namespace "${namespace}" with retraining.enabled=true? ` +
        `\`kubectl get cronjobs -n ${namespace}\` lists the CronJobs there`,
    };
    return api(what, () => batch.readNamespacedCronJob({ name: cronJobName, namespace }));
  }

  /** Jobs of this CronJob that are still running and retrain `model`. */
  async function runningJobs(cronJob: V1CronJob, model: string | undefined): Promise<V1Job[]> {
    const labels = cronJob.spec?.jobTemplate.metadata?.labels ?? {};
    const labelSelector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const list = await api(call('list', 'jobs'), () =>
      batch.listNamespacedJob({ namespace, labelSelector: labelSelector || undefined }),
    );
    return list.items.filter((job) => {
      const owned = job.metadata?.ownerReferences?.some((o) => o.uid === cronJob.metadata?.uid);
      const jobModel = modelArg(retrainContainer(job.spec?.template.spec?.containers ?? [])?.args);
      return owned && !jobResult(job) && (model === undefined || jobModel === model);
    });
  }

  async function trigger(request: TriggerRequest = {}): Promise<TriggeredJob> {
    const cronJob = await readCronJob();
    const { allowConcurrent = false, ...run } = request;
    let job = jobFromCronJob(cronJob, manualJobName(cronJobName), run);
    const model = job.metadata?.annotations?.[MODEL_ANNOTATION];
    if (!allowConcurrent) {
      const running = await runningJobs(cronJob, model);
      if (running.length > 0) {
        const names = running.map((j) => j.metadata?.name).join(', ');
        throw new MscrError(
          'conflict',
          `a retraining Job of CronJob "${cronJobName}"${model ? ` for model "${model}"` : ''} ` +
            `is still running (${names}): wait for it to finish, or allow concurrent runs`,
        );
      }
    }
    for (let attempt = 1; ; attempt++) {
      const name = job.metadata?.name ?? '';
      try {
        const created = await api(call('create', 'jobs', name), () =>
          batch.createNamespacedJob({ namespace, body: job }),
        );
        return { jobName: name, namespace, uid: created.metadata?.uid ?? '', model };
      } catch (error) {
        // A name taken by chance (5 random characters): draw another.
        if (
          !(error instanceof MscrError && error.code === 'conflict') ||
          attempt >= NAME_ATTEMPTS
        ) {
          throw error;
        }
        job = jobFromCronJob(cronJob, manualJobName(cronJobName), run);
      }
    }
  }

  async function readJob(jobName: string): Promise<V1Job> {
    const what = {
      ...call('get', 'jobs', jobName),
      notFoundHint:
        'it was deleted, or removed by ttlSecondsAfterFinished before it was seen ending',
    };
    return api(what, () => batch.readNamespacedJob({ name: jobName, namespace }));
  }

  /** Resolves when the Job may have changed: a watch event, the watch closing, or `ms`. */
  async function nextChange(job: V1Job, ms: number, signal?: AbortSignal): Promise<void> {
    // The first of these settles the wait; later calls (e.g. our own abort) change nothing.
    let why: 'event' | 'closed' | 'failed' | 'timeout' | 'aborted' | undefined;
    let resolveChange = () => {};
    const changed = new Promise<void>((resolve) => (resolveChange = resolve));
    const finish = (reason: NonNullable<typeof why>) => {
      why ??= reason;
      resolveChange();
    };
    const timer = setTimeout(() => finish('timeout'), ms);
    const onAbort = () => finish('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    const controller = await new Watch(config)
      .watch(
        `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs`,
        {
          fieldSelector: `metadata.name=${job.metadata?.name ?? ''}`,
          resourceVersion: job.metadata?.resourceVersion,
          timeoutSeconds: Math.max(1, Math.ceil(ms / 1000)),
        },
        () => finish('event'),
        (error: unknown) => finish(error ? 'failed' : 'closed'),
      )
      .catch(() => {
        finish('failed');
        return undefined;
      });
    await changed;
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    controller?.abort();
    // Without watch rights (or with a broken connection), fall back to polling.
    if (why === 'failed') {
      await new Promise((resolve) => setTimeout(resolve, Math.min(pollIntervalMs, ms)));
    }
  }

  async function withPodFailure(result: JobResult, job: V1Job): Promise<JobResult> {
    if (result.outcome !== 'failed' || !job.metadata?.uid) return result;
    try {
      const pods = await core.listNamespacedPod({
        namespace,
        labelSelector: `batch.kubernetes.io/controller-uid=${job.metadata.uid}`,
      });
      const failure = podFailure(pods.items);
      return failure ? { ...result, podFailure: failure } : result;
    } catch {
      return result; // no rights on pods (the chart grants none): the Job's reason must do
    }
  }

  async function wait(jobName: string, waitOptions: WaitOptions = {}): Promise<JobResult> {
    const { timeoutMs = 3_600_000, signal, onProgress } = waitOptions;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const job = await readJob(jobName);
      const result = jobResult(job);
      if (result) return withPodFailure(result, job);
      const progress = jobProgress(job);
      onProgress?.(progress);
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new MscrError(
          'unavailable',
          `Job "${jobName}" in namespace "${namespace}" did not finish within ` +
            `${Math.round(timeoutMs / 1000)} s (active pods: ${progress.active}, ` +
            `failed: ${progress.failed}); it keeps running: \`kubectl describe job ${jobName} ` +
            `-n ${namespace}\``,
        );
      }
      await nextChange(job, Math.min(remaining, WATCH_SLICE_MS), signal);
    }
  }

  async function runJob(
    runId: string,
  ): Promise<{ jobName: string; result?: JobResult } | undefined> {
    const list = await api(call('list', 'jobs'), () => batch.listNamespacedJob({ namespace }));
    const job = list.items.find((j) => j.metadata?.annotations?.[RUN_ID_ANNOTATION] === runId);
    if (job === undefined) return undefined;
    const result = jobResult(job);
    return { jobName: job.metadata?.name ?? '', ...(result ? { result } : {}) };
  }

  return { namespace, cronJobName, server, trigger, wait, runJob };
}
