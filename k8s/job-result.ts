/**
 * A Job's outcome read from its status: finished when it has a `Complete` or `Failed`
 * condition with status "True" (the Job controller's terminal conditions), with the reason
 * Kubernetes gives (BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy, ...) and, when
 * the pods can be read, the failing container's exit code and reason.
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';

export interface PodFailure {
  pod: string;
  /** The container's termination reason (Error, OOMKilled, ...) or the pod's reason. */
  reason?: string;
  message?: string;
  /** Exit code of the failed container: `mscr retrain`'s codes say what went wrong. */
  exitCode?: number;
}

export interface JobResult {
  jobName: string;
  namespace: string;
  outcome: 'succeeded' | 'failed';
  /** Reason of the terminal condition, e.g. "CompletionsReached", "BackoffLimitExceeded". */
  reason?: string;
  message?: string;
  startTime?: string;
  completionTime?: string;
  /** From startTime to completionTime (or to the Failed condition). */
  durationMs?: number;
  /** Pods that succeeded and failed, per the Job's status. */
  succeeded: number;
  failed: number;
  /** The last failed pod, when the outcome is failed and the pods can be read. */
  podFailure?: PodFailure;
}

/** A Job still running: what the status says so far. */
export interface JobProgress {
  jobName: string;
  active: number;
  ready: number;
  succeeded: number;
  failed: number;
}

function iso(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value instanceof Date ? value.toISOString() : value;
}

export function jobProgress(job: V1Job): JobProgress {
  const s = job.status ?? {};
  return {
    jobName: job.metadata?.name ?? '',
    active: s.active ?? 0,
    ready: s.ready ?? 0,
    succeeded: s.succeeded ?? 0,
    failed: s.failed ?? 0,
  };
}

/** The result of a finished Job, or undefined while it runs. */
export function jobResult(job: V1Job): JobResult | undefined {
  const conditions = job.status?.conditions ?? [];
  const terminal = conditions.find(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
  if (!terminal) return undefined;
  const startTime = iso(job.status?.startTime);
  const completionTime = iso(job.status?.completionTime);
  const end = completionTime ?? iso(terminal.lastTransitionTime);
  const durationMs =
    startTime && end ? Math.max(0, Date.parse(end) - Date.parse(startTime)) : undefined;
  return {
    jobName: job.metadata?.name ?? '',
    namespace: job.metadata?.namespace ?? '',
    outcome: terminal.type === 'Complete' ? 'succeeded' : 'failed',
    reason: terminal.reason,
    message: terminal.message,
    startTime,
    completionTime,
    durationMs: Number.isNaN(durationMs) ? undefined : durationMs,
    succeeded: job.status?.succeeded ?? 0,
    failed: job.status?.failed ?? 0,
  };
}

/** The most recent failure among a Job's pods, if any pod failed. */
export function podFailure(pods: V1Pod[]): PodFailure | undefined {
  const failedPods = pods
    .filter((p) => p.status?.phase === 'Failed')
    .sort((a, b) => finishedAt(b) - finishedAt(a));
  const pod = failedPods[0];
  if (!pod) return undefined;
  const terminated = (pod.status?.containerStatuses ?? [])
    .map((c) => c.state?.terminated)
    .find((t) => t !== undefined && t.exitCode !== 0);
  return {
    pod: pod.metadata?.name ?? '',
    reason: terminated?.reason ?? pod.status?.reason,
    message: terminated?.message ?? pod.status?.message,
    exitCode: terminated?.exitCode,
  };
}

function finishedAt(pod: V1Pod): number {
  const times = (pod.status?.containerStatuses ?? []).map((c) =>
    Date.parse(iso(c.state?.terminated?.finishedAt) ?? ''),
  );
  const created = Date.parse(iso(pod.metadata?.creationTimestamp) ?? '');
  return Math.max(Number.isNaN(created) ? 0 : created, ...times.filter((t) => !Number.isNaN(t)));
}
