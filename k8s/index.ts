/**
 * mscr's Kubernetes adapter (on @kubernetes/client-node): start a retraining run as a Job
 * from the chart's retraining CronJob, exactly as `kubectl create job --from=cronjob/<name>`
 * does, and follow it to its end.
 *
 *     const k = createKubernetesTrigger({ cronJobName: 'demo-mscr-retrain', namespace: 'ml' });
 *     const { jobName } = await k.trigger({ model: 'cifar10', reason: 'drift' });
 *     const result = await k.wait(jobName, { timeoutMs: 30 * 60_000 });
 *
 * Credentials: an explicit kubeconfig path, else $KUBECONFIG, else the pod's ServiceAccount
 * (in-cluster), else ~/.kube/config. Every failure is an MscrError (connectors/errors.ts):
 * 'not_found' (no such CronJob or Job), 'config' with status 403 (RBAC: names the verb and
 * resource, and the chart Role that grants them) or 401, 'conflict' (a run of the same model
 * is still going), 'unavailable' (API server unreachable, or `wait` timed out).
 */
export { createKubernetesTrigger } from './trigger.ts';
export type {
  KubernetesTrigger,
  KubernetesTriggerOptions,
  TriggerRequest,
  TriggeredJob,
  WaitOptions,
} from './trigger.ts';
export type { JobProgress, JobResult, PodFailure } from './job-result.ts';
export { jobResult } from './job-result.ts';
export {
  INSTANTIATE_ANNOTATION,
  MODEL_ANNOTATION,
  REASON_ANNOTATION,
  RUN_ID_ANNOTATION,
  TRIGGER_ENV,
  jobFromCronJob,
  manualJobName,
} from './job-from-cronjob.ts';
export type { RunRequest } from './job-from-cronjob.ts';
export { loadKubeConfig } from './kubeconfig.ts';
export type { KubeConfigOptions, LoadedKubeConfig } from './kubeconfig.ts';
