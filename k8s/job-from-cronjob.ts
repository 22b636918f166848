/**
 * The Job that `kubectl create job <name> --from=cronjob/<cronjob>` creates, as a pure
 * function (kubectl's createJobFromCronJob): the CronJob's jobTemplate spec unchanged, its
 * labels, its annotations plus `cronjob.kubernetes.io/instantiate: manual`, and an owner
 * reference to the CronJob with `controller: true` (no blockOwnerDeletion, so creating it
 * needs no rights on the CronJob's finalizers). What mscr adds: a generated unique name, and
 * what `mscr retrain` records of the run: `--model`, `--reason` and `--run-id` in the
 * container's args, MSCR_RETRAIN_TRIGGER (the default of its `--trigger`) in its environment,
 * and the model, reason and run id as annotations for `kubectl describe job`.
 */
import { trimTrailing } from '../connectors/text.ts';
import { randomInt } from 'node:crypto';
import type { V1Container, V1CronJob, V1EnvVar, V1Job } from '@kubernetes/client-node';
import { MscrError } from '../connectors/errors.ts';
import type { TriggerKind } from '../connectors/sr/index.ts';

/** What one manual run asks for beyond the CronJob's template. */
export interface RunRequest {
  /** Model to retrain: replaces the value of `--model` in the container's args. */
  model?: string;
  /** Why the run was started, for the record: `--reason <text>` and an annotation. */
  reason?: string;
  /** The run's id, when the caller chose it (a RetrainLauncher does): `--run-id <id>`. */
  runId?: string;
  /** What started the run, for the record (MSCR_RETRAIN_TRIGGER); default "kubernetes". */
  trigger?: TriggerKind;
  /** Extra environment variables of the retraining container (override the template's). */
  env?: Record<string, string>;
  /** Extra arguments appended to the retraining container's args. */
  args?: string[];
}

export const INSTANTIATE_ANNOTATION = 'cronjob.kubernetes.io/instantiate';
export const REASON_ANNOTATION = 'mscr/retrain-reason';
export const MODEL_ANNOTATION = 'mscr/retrain-model';
export const RUN_ID_ANNOTATION = 'mscr/retrain-run-id';
/** The environment variable `mscr retrain` takes its `--trigger` default from. */
export const TRIGGER_ENV = 'MSCR_RETRAIN_TRIGGER';

/** Job names are label values (`batch.kubernetes.io/job-name`): 63 characters at most. */
const MAX_NAME = 63;
/** The alphabet Kubernetes uses for generateName suffixes (no vowels, no look-alikes). */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const SUFFIX_LENGTH = 5;

function randomSuffix(): string {
  let suffix = '';
  for (let i = 0; i < SUFFIX_LENGTH; i++) suffix += ALPHABET[randomInt(ALPHABET.length)];
  return suffix;
}

/** `<cronjob>-manual-<suffix>`, with the CronJob's name cut so the whole fits 63 characters. */
export function manualJobName(cronJobName: string, suffix: string = randomSuffix()): string {
  const tail = `-manual-${suffix}`;
  const head = trimTrailing(cronJobName.slice(0, MAX_NAME - tail.length), '-.');
  return `${head}${tail}`;
}

/** The container that runs `mscr retrain`: the one named "retrain", else the first. */
export function retrainContainer(containers: V1Container[]): V1Container | undefined {
  return containers.find((c) => c.name === 'retrain') ?? containers[0];
}

/** The value of `--model` in an argument list (`--model m` or `--model=m`). */
export function modelArg(args: readonly string[] | undefined): string | undefined {
  if (!args) return undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--model') return args[i + 1];
    if (arg.startsWith('--model=')) return arg.slice('--model='.length);
  }
  return undefined;
}

function withModel(args: readonly string[], model: string): string[] {
  const out = [...args];
  const at = out.findIndex((a) => a === '--model' || a.startsWith('--model='));
  if (at < 0) return [...out, '--model', model];
  if (out[at] === '--model') out[at + 1] = model;
  else out[at] = `--model=${model}`;
  return out;
}

function withEnv(env: V1EnvVar[] | undefined, extra: Record<string, string>): V1EnvVar[] {
  const names = new Set(Object.keys(extra));
  const kept = (env ?? []).filter((e) => !names.has(e.name));
  return [...kept, ...Object.entries(extra).map(([name, value]) => ({ name, value }))];
}

/** The Job for one manual run of `cronJob` (which must have been read from the API). */
export function jobFromCronJob(cronJob: V1CronJob, name: string, request: RunRequest = {}): V1Job {
  const cronName = cronJob.metadata?.name;
  const uid = cronJob.metadata?.uid;
  const template = cronJob.spec?.jobTemplate;
  if (!cronName || !uid || !template?.spec) {
    throw new MscrError(
      'internal',
      'a CronJob read from the API lacks its name, uid or jobTemplate',
    );
  }
  const spec = structuredClone(template.spec);
  const container = retrainContainer(spec.template.spec?.containers ?? []);
  if (container) {
    let args = container.args ?? [];
    if (request.model) args = withModel(args, request.model);
    if (request.reason) args = [...args, '--reason', request.reason];
    if (request.runId) args = [...args, '--run-id', request.runId];
    container.args = [...args, ...(request.args ?? [])];
    const trigger = request.trigger ?? 'kubernetes';
    container.env = withEnv(container.env, { [TRIGGER_ENV]: trigger, ...request.env });
  }
  const annotations: Record<string, string> = {
    [INSTANTIATE_ANNOTATION]: 'manual',
    ...template.metadata?.annotations,
  };
  if (request.reason) annotations[REASON_ANNOTATION] = request.reason;
  if (request.runId) annotations[RUN_ID_ANNOTATION] = request.runId;
  const model = request.model ?? modelArg(container?.args);
  if (model) annotations[MODEL_ANNOTATION] = model;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: cronJob.metadata?.namespace,
      annotations,
      labels: { ...template.metadata?.labels },
      ownerReferences: [
        { apiVersion: 'batch/v1', kind: 'CronJob', name: cronName, uid, controller: true },
      ],
    },
    spec,
  };
}
