/**
 * `mscr retrain ...`: the Retraining layer from the command line. This file wires it: the
 * Model layer's candidate trainer (MR connector), the model store, the feedback and run
 * records (SR connector), and the Service's signals over HTTP for the threshold trigger.
 *
 *     mscr retrain --model m --store uri --data a,b     one run (what the CronJob executes)
 *     mscr retrain history --model m --store uri        the run records
 *     mscr retrain trigger --url svc --model m          ask a Service to start a run
 *     mscr retrain watch --url svc --model m ...        cron and threshold triggers, one process
 *
 * Exit codes (cli/exit-codes.ts): 0 published or rejected by the gate (a decision, not an
 * error), 3 bad data, 5 store or service unreachable, 7 a run already holds the model, 1 training failed.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { MscrError, errorMessage } from '../connectors/errors.ts';
import { createClient } from '../client/index.ts';
import type { RetrainRun, TriggerKind } from '../connectors/sr/index.ts';
import { createFeedbackStore } from '../connectors/sr/feedback-store.ts';
import { createRunStore, newRunId } from '../connectors/sr/run-store.ts';
import type { SearchParameter } from '../connectors/sr/train.ts';
import { createKubernetesTrigger } from '../k8s/index.ts';
import { createModelStore, openObjectStore } from '../connectors/store/index.ts';
import { createRolloutStore } from '../connectors/store/rollout.ts';
import { percentage, steps } from './rollout.ts';
import { createCandidateTrainer } from '../model/pipeline/index.ts';
import { runRetrain, type RetrainOptions } from '../retraining/job/index.ts';
import { DEFAULT_OBSERVER_POLICY, type ObserverPolicy } from '../retraining/observers/index.ts';
import {
  guarded,
  startCronTrigger,
  startThresholdTrigger,
  type Trigger,
} from '../retraining/triggers/index.ts';
import {
  collectList,
  DEFAULT_STORE,
  duration,
  fraction,
  oneOf,
  positiveInt,
  positiveNumber,
} from './options.ts';
import { localData } from './data-uris.ts';
import { addSearchOptions, searchFromFlags, serviceUrl } from './train-remote.ts';
import { formatTable, printJson } from './output.ts';

const TRIGGERS: readonly TriggerKind[] = ['manual', 'cron', 'threshold', 'request', 'kubernetes'];
const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;

interface JobFlags {
  model: string;
  store: string;
  data: string[];
  alias?: string;
  canary?: number;
  shadow?: boolean;
  steps?: number[];
  stepEvery?: number;
  servingAlias?: string;
  fromServing?: boolean;
  feedback: boolean;
  feedbackSince?: string;
  metric?: string;
  tolerance?: number;
  minHeldOut?: number;
  arch?: string;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  limit?: number;
  seed?: number;
  testFraction?: number;
  backend: (typeof BACKENDS)[number];
  candidates?: number;
  search?: Partial<Record<SearchParameter, number[]>>;
  searchMode?: 'grid' | 'random';
  searchSeed?: number;
  runData?: string[];
  trigger: TriggerKind;
  reason?: string;
  runId?: string;
  json?: boolean;
  quiet?: boolean;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`expected a number >= 0, got ${JSON.stringify(value)}`);
  }
  return n;
}

function isoTime(value: string): string {
  if (Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError(
      `expected a date or time such as 2026-11-01 or 2026-11-01T12:00:00Z, got ${JSON.stringify(value)}`,
    );
  }
  return new Date(value).toISOString();
}

/** The job options every way of running a job shares. */
function addJobOptions(command: Command): Command {
  return addSearchOptions(command)
    .option(
      '--store <uri>',
      'model store URI (file://, s3://, gs://)',
      process.env.MSCR_STORE || DEFAULT_STORE,
    )
    .option('--data <uri...>', 'base training data (comma-separated or repeated)', collectList)
    .option('--alias <name>', 'move this alias to the new version when the gate passes')
    .option(
      '--canary <pct>',
      'instead of an alias: end in a canary of the new version at this share (e.g. 10%), promoted or rolled back by the Service on live evidence',
      percentage,
    )
    .option('--shadow', 'instead of an alias: end in a shadow rollout of the new version')
    .option(
      '--steps <list>',
      'canary weights of that rollout, ending at 100 (default 5,25,50,100)',
      steps,
    )
    .option('--step-every <duration>', 'least time at each canary step (default 10m)', duration)
    .option(
      '--serving-alias <name>',
      'the version to beat: this alias if it exists, else the latest',
    )
    .option('--from-serving', "start from the serving version's weights instead of from scratch")
    .option('--no-feedback', 'leave the labelled feedback out of the training data')
    .option('--feedback-since <time>', 'only feedback received since this time', isoTime)
    .option(
      '--metric <name>',
      'gate metric (default: accuracy for classifiers, rmse for forecasters, map for detectors)',
    )
    .option(
      '--tolerance <x>',
      'gate: how much worse the candidate may be and still pass (absolute)',
      nonNegative,
    )
    .option(
      '--min-held-out <n>',
      'gate: fewest held-out samples a comparison with the serving version may rest on (default 30)',
      positiveInt,
    )
    .option('--arch <architecture>', "model builder (default: the serving version's)")
    .option('--epochs <n>', 'training epochs', positiveInt)
    .option('--batch-size <n>', 'mini-batch size', positiveInt)
    .option('--learning-rate <x>', 'Adam learning rate', positiveNumber)
    .option('--limit <n>', 'use at most n samples of the base data', positiveInt)
    .option('--seed <n>', 'seed for splits and shuffles', positiveInt)
    .option('--test-fraction <x>', 'held-out fraction for the gate (default 0.2)', fraction)
    .option('--backend <name>', 'TensorFlow.js backend', oneOf(BACKENDS), 'auto')
    .option('--search-seed <n>', 'seed of a random search (default: --seed, else 42)', positiveInt)
    .option(
      '--run-data <uri...>',
      "this run's training data, replacing --data (what a launcher passes for POST /mscr/train)",
      collectList,
    );
}

/** `--canary` / `--shadow`: the run ends in a rollout instead of moving an alias. */
function rolloutOf(
  flags: JobFlags,
  objects: ReturnType<typeof openObjectStore>,
): Pick<RetrainOptions, 'rollout'> {
  if (flags.canary !== undefined && flags.shadow)
    throw new MscrError('config', 'give at most one of --canary <pct> and --shadow');
  if (flags.canary === undefined && !flags.shadow) {
    if (flags.steps !== undefined || flags.stepEvery !== undefined)
      throw new MscrError('config', '--steps and --step-every need --canary <pct> or --shadow');
    return {};
  }
  return {
    rollout: {
      rollouts: createRolloutStore(objects),
      mode: flags.shadow ? 'shadow' : 'canary',
      ...(flags.canary !== undefined ? { weight: flags.canary } : {}),
      ...(flags.steps !== undefined ? { steps: flags.steps } : {}),
      ...(flags.stepEvery !== undefined ? { stepEveryMs: flags.stepEvery } : {}),
    },
  };
}

function jobOptions(
  flags: JobFlags,
  trigger: RetrainRun['trigger'],
  say: (line: string) => void,
): RetrainOptions {
  const data = flags.runData ?? flags.data;
  if (!data || data.length === 0) {
    throw new MscrError('config', 'no training data: pass --data <uri>[,<uri>...]');
  }
  const search = searchFromFlags(flags, flags.searchSeed ?? flags.seed);
  const objects = openObjectStore(flags.store);
  const training = {
    ...(flags.arch ? { architecture: flags.arch } : {}),
    ...(flags.epochs ? { epochs: flags.epochs } : {}),
    ...(flags.batchSize ? { batchSize: flags.batchSize } : {}),
    ...(flags.learningRate ? { learningRate: flags.learningRate } : {}),
    ...(flags.limit ? { limit: flags.limit } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    ...(flags.testFraction ? { testFraction: flags.testFraction } : {}),
    backend: flags.backend,
  };
  return {
    model: flags.model,
    store: createModelStore(objects),
    runs: createRunStore(objects),
    trainer: createCandidateTrainer(),
    data,
    ...(search ? { search } : {}),
    ...(flags.feedback ? { feedback: createFeedbackStore(objects) } : {}),
    ...(flags.feedbackSince ? { feedbackSince: flags.feedbackSince } : {}),
    trigger,
    ...(flags.alias ? { alias: flags.alias } : {}),
    ...rolloutOf(flags, objects),
    ...(flags.servingAlias ? { servingAlias: flags.servingAlias } : {}),
    fromServing: flags.fromServing === true,
    gate: {
      ...(flags.metric ? { metric: flags.metric } : {}),
      ...(flags.tolerance !== undefined ? { tolerance: flags.tolerance } : {}),
      ...(flags.minHeldOut !== undefined ? { minHeldOut: flags.minHeldOut } : {}),
    },
    training,
    ...(flags.runId ? { runId: flags.runId } : {}),
    onProgress: say,
  };
}

/** One job, with S3 or GCS data copied to a temporary folder for its duration. */
async function runJob(
  flags: JobFlags,
  trigger: RetrainRun['trigger'],
  say: (line: string) => void,
): Promise<RetrainRun> {
  const options = jobOptions(flags, trigger, say);
  const data = await localData(options.data);
  try {
    const run = await runRetrain({ ...options, data: data.paths });
    return run;
  } finally {
    await data.cleanup();
  }
}

function formatRun(run: RetrainRun): string {
  const metrics = (m: Record<string, number> | undefined) =>
    m
      ? Object.entries(m)
          .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(4)}`)
          .join(' ')
      : '-';
  return [
    `run ${run.id} of ${run.model}: ${run.outcome.toUpperCase()}`,
    `  trigger    ${run.trigger.kind}${run.trigger.reason ? ` (${run.trigger.reason})` : ''}`,
    `  data       ${run.inputs?.sources.join(', ') ?? '-'} (${run.inputs?.feedbackRecords ?? 0} feedback records)`,
    ...(run.trials ?? []).map(
      (t) =>
        `  trial ${String(t.trial).padEnd(4)} ${JSON.stringify(t.hyperparameters)} ${t.error ? `failed: ${t.error}` : metrics(t.metrics)} (${t.durationMs} ms)${t.best ? ' best' : ''}`,
    ),
    `  candidate  ${metrics(run.candidate?.metrics)}${run.candidate?.trial !== undefined ? ` (trial ${run.candidate.trial})` : ''}`,
    `  serving    ${run.baseline ? `version ${run.baseline.version}: ${metrics(run.baseline.metrics)}` : '-'}`,
    `  decision   ${run.message ?? '-'}`,
    ...(run.published
      ? [
          `  published  version ${run.published.version}${run.published.alias ? ` (${run.published.alias})` : ''}`,
        ]
      : []),
  ].join('\n');
}

export function registerRetrainCommands(program: Command): void {
  const retrain = addJobOptions(
    program
      .command('retrain')
      .description(
        'retrain a model on its data and the feedback collected so far; publish only if it beats the serving version',
      )
      .option('--model <name>', 'model to retrain')
      .option(
        '--trigger <kind>',
        `what started this run, for the record: ${TRIGGERS.join(', ')}`,
        oneOf(TRIGGERS),
        process.env.MSCR_RETRAIN_TRIGGER || 'manual',
      )
      .option('--reason <text>', 'why, for the record')
      .option('--run-id <id>', 'use this run id (given by a launcher)')
      .option('--json', 'print the run record as JSON')
      .option('--quiet', 'no progress output'),
  )
    .addHelpText(
      'after',
      '\nExit codes: 0 published, or rejected by the gate (a decision, see the record); 3 bad data; 5 store unreachable; 7 another run holds the model; 1 training failed.\n\nExample:\n  mscr retrain --model cifar10-cnn --store s3://models/prod --data s3://data/cifar10/train --alias stable',
    )
    .action(async (flags: JobFlags & { model?: string }) => {
      if (!flags.model)
        throw new MscrError('config', "required option '--model <name>' not specified");
      const say =
        flags.quiet || flags.json
          ? () => undefined
          : (line: string) => process.stderr.write(`${line}\n`);
      const run = await runJob(
        flags as JobFlags,
        { kind: flags.trigger, ...(flags.reason ? { reason: flags.reason } : {}) },
        say,
      );
      if (flags.json) printJson(run);
      else console.log(formatRun(run));
    });

  retrain
    .command('history')
    .description('show the retraining runs of a model, newest first')
    .requiredOption('--model <name>', 'model')
    .option('--store <uri>', 'model store URI', process.env.MSCR_STORE || DEFAULT_STORE)
    .option('--limit <n>', 'how many runs', positiveInt, 20)
    .option('--json', 'print JSON')
    .action(async (flags: { model: string; store: string; limit: number; json?: boolean }) => {
      const runs = await createRunStore(openObjectStore(flags.store)).list(flags.model, {
        limit: flags.limit,
      });
      if (flags.json) return printJson(runs);
      if (runs.length === 0) {
        console.log(`no retraining runs of ${flags.model} in ${flags.store}`);
        return;
      }
      console.log(
        formatTable(
          ['RUN', 'TRIGGER', 'OUTCOME', 'CANDIDATE', 'SERVING', 'PUBLISHED', 'WHY'],
          runs.map((run) => {
            const metric = (m: Record<string, number> | undefined) => {
              const [name, value] = Object.entries(m ?? {})[0] ?? [];
              return name === undefined || value === undefined
                ? '-'
                : `${name}=${value.toFixed(4)}`;
            };
            return [
              run.id,
              run.trigger.kind,
              run.outcome,
              metric(run.candidate?.metrics),
              run.baseline ? `v${run.baseline.version} ${metric(run.baseline.metrics)}` : '-',
              run.published ? `v${run.published.version}` : '-',
              run.message ?? '',
            ];
          }),
        ),
      );
    });

  retrain
    .command('trigger')
    .description(
      'start a retraining run: through a running Service (--url, needs its admin token) or, in a cluster, as a Job from the retraining CronJob (--cronjob)',
    )
    .requiredOption('--model <name>', 'model')
    .option('--url <url>', 'the Service, e.g. http://localhost:8080', serviceUrl)
    .option('--token <token>', 'admin token [env MSCR_ADMIN_TOKEN]')
    .option('--cronjob <name>', "the chart's retraining CronJob, e.g. mscr-retrain")
    .option('--namespace <ns>', "its namespace (default: the kubeconfig context's, or the pod's)")
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)')
    .option('--wait', 'with --cronjob: follow the Job to its end and exit with its outcome')
    .option('--timeout <duration>', 'with --wait: give up after this long', duration, 3_600_000)
    .option('--reason <text>', 'why, for the record')
    .addHelpText(
      'after',
      '\nExamples:\n  mscr retrain trigger --url http://localhost:8080 --model cifar10-cnn --reason drift\n  mscr retrain trigger --cronjob mscr-retrain --namespace ml --model cifar10-cnn --wait',
    )
    .action(
      async (flags: {
        url?: string;
        model: string;
        token?: string;
        cronjob?: string;
        namespace?: string;
        kubeconfig?: string;
        wait?: boolean;
        timeout: number;
        reason?: string;
      }) => {
        if ((flags.url === undefined) === (flags.cronjob === undefined)) {
          throw new MscrError(
            'config',
            'pass either --url (a running Service) or --cronjob (a cluster)',
          );
        }
        if (flags.cronjob !== undefined) {
          const kube = createKubernetesTrigger({
            cronJobName: flags.cronjob,
            ...(flags.namespace ? { namespace: flags.namespace } : {}),
            ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
          });
          const job = await kube.trigger({
            model: flags.model,
            runId: newRunId(),
            trigger: 'kubernetes',
            ...(flags.reason ? { reason: flags.reason } : {}),
          });
          console.log(`created Job ${job.namespace}/${job.jobName} from CronJob ${flags.cronjob}`);
          if (!flags.wait) return;
          const result = await kube.wait(job.jobName, { timeoutMs: flags.timeout });
          console.log(
            `Job ${result.jobName}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}${result.message ? `: ${result.message}` : ''}`,
          );
          if (result.outcome !== 'succeeded') process.exitCode = result.podFailure?.exitCode ?? 1;
          return;
        }
        const token = flags.token ?? process.env.MSCR_ADMIN_TOKEN;
        if (!token)
          throw new MscrError('config', 'no admin token: pass --token or set MSCR_ADMIN_TOKEN');
        const body = await createClient({
          baseUrl: flags.url as string,
          timeoutMs: 15_000,
        }).retrain(flags.model, { token, ...(flags.reason ? { reason: flags.reason } : {}) });
        console.log(
          `started retraining run ${body.runId} of ${body.model}; see: mscr retrain history --model ${body.model}`,
        );
      },
    );

  addJobOptions(
    retrain
      .command('watch')
      .description(
        "run the triggers in one process: a cron schedule and/or thresholds on the Service's signals",
      )
      .requiredOption('--model <name>', 'model to watch and retrain')
      .option('--url <url>', 'the Service whose signals the thresholds read', serviceUrl)
      .option('--schedule <cron>', 'retrain on this cron schedule, e.g. "0 3 * * *"')
      .option('--timezone <tz>', 'time zone of the schedule, e.g. Europe/Paris')
      .option(
        '--min-accuracy <x>',
        'retrain when accuracy on labelled feedback falls below this',
        fraction,
      )
      .option('--max-psi <x>', 'retrain when the predicted-class PSI exceeds this', positiveNumber)
      .option(
        '--max-confidence-psi <x>',
        'retrain when the confidence PSI exceeds this',
        positiveNumber,
      )
      .option(
        '--max-age <duration>',
        'retrain when the serving version is older than this (e.g. 30d)',
        duration,
      )
      .option(
        '--max-mae <x>',
        "forecasters: retrain when the mean absolute error on fed-back actuals exceeds this (the data's units)",
        positiveNumber,
      )
      .option(
        '--max-mae-vs-naive <x>',
        "forecasters: retrain when that error exceeds this multiple of the naive forecast's on the same days (1 = no better than tomorrow-is-today)",
        positiveNumber,
      )
      .option(
        '--min-feedback <n>',
        'labelled feedback (or fed-back actuals) needed before accuracy (or error) counts',
        positiveInt,
        20,
      )
      .option(
        '--min-predictions <n>',
        'predictions needed before drift counts',
        positiveInt,
        DEFAULT_OBSERVER_POLICY.minPredictions,
      )
      .option('--interval <duration>', 'how often to read the signals', duration, 30_000)
      .option(
        '--cooldown <duration>',
        'after a threshold run, wait this long before another',
        duration,
        3_600_000,
      )
      .option('--once', 'check the thresholds once, run if they fire, and exit'),
  ).action(
    async (
      flags: JobFlags & {
        url?: string;
        schedule?: string;
        timezone?: string;
        minAccuracy?: number;
        maxPsi?: number;
        maxConfidencePsi?: number;
        maxAge?: number;
        maxMae?: number;
        maxMaeVsNaive?: number;
        minFeedback: number;
        minPredictions: number;
        interval: number;
        cooldown: number;
        once?: boolean;
      },
    ) => {
      const say = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      const thresholds =
        flags.minAccuracy !== undefined ||
        flags.maxPsi !== undefined ||
        flags.maxConfidencePsi !== undefined ||
        flags.maxAge !== undefined ||
        flags.maxMae !== undefined ||
        flags.maxMaeVsNaive !== undefined;
      if (!flags.schedule && !thresholds) {
        throw new MscrError(
          'config',
          'nothing to watch: pass --schedule and/or a threshold (--min-accuracy, --max-psi, --max-confidence-psi, --max-age, --max-mae, --max-mae-vs-naive)',
        );
      }
      if (thresholds && !flags.url)
        throw new MscrError('config', "thresholds read the Service's signals: pass --url");
      const store = createModelStore(openObjectStore(flags.store));
      const fire = guarded(async (trigger) => {
        say(`trigger ${trigger.kind}: ${trigger.reason ?? ''}`);
        try {
          const run = await runRetrain(
            jobOptions({ ...flags, trigger: trigger.kind }, trigger, say),
          );
          say(`run ${run.id}: ${run.outcome}: ${run.message ?? ''}`);
          return run;
        } catch (error) {
          say(`run failed: ${errorMessage(error)}`);
          throw error;
        }
      }, say);
      const policy: ObserverPolicy = {
        minPredictions: flags.minPredictions,
        minFeedback: flags.minFeedback,
        ...(flags.minAccuracy !== undefined ? { minFeedbackAccuracy: flags.minAccuracy } : {}),
        ...(flags.maxPsi !== undefined ? { maxClassPsi: flags.maxPsi } : {}),
        ...(flags.maxConfidencePsi !== undefined
          ? { maxConfidencePsi: flags.maxConfidencePsi }
          : {}),
        ...(flags.maxAge !== undefined ? { maxDataAgeDays: flags.maxAge / 86_400_000 } : {}),
        ...(flags.maxMae !== undefined ? { maxFeedbackMae: flags.maxMae } : {}),
        ...(flags.maxMaeVsNaive !== undefined ? { maxMaeVsNaive: flags.maxMaeVsNaive } : {}),
      };
      const url = flags.url;
      // The Service's signals through the SDK (retries on 503 and refused connections).
      const service = url ? createClient({ baseUrl: url, timeoutMs: 15_000 }) : undefined;
      const threshold =
        thresholds && service
          ? startThresholdTrigger({
              signals: () => service.signals(flags.model),
              context: async (signals) => {
                if (signals.version === undefined) return {};
                const manifest = await store.readManifest(flags.model, signals.version);
                return {
                  ...(manifest.labels ? { labels: manifest.labels } : {}),
                  ...(manifest.reference ? { reference: manifest.reference } : {}),
                  trainedAt: manifest.createdAt,
                };
              },
              policy,
              intervalMs: flags.once ? 2 ** 31 - 1 : flags.interval,
              cooldownMs: flags.cooldown,
              fire,
              onObservation: (o, s) =>
                say(
                  `signals of ${flags.model} v${s.version ?? '-'}: ${s.predictions} predictions, ${s.feedback.judged} judged feedback` +
                    `${o.feedbackAccuracy !== undefined ? `, accuracy ${o.feedbackAccuracy.toFixed(3)}` : ''}` +
                    `${o.feedbackMae !== undefined ? `, MAE ${o.feedbackMae.toPrecision(4)}` : ''}` +
                    `${o.maeVsNaive !== undefined ? ` (${o.maeVsNaive.toFixed(3)}x naive)` : ''}` +
                    `${o.classPsi !== undefined ? `, class PSI ${o.classPsi.toFixed(3)}` : ''}${o.fire ? ` -> retrain: ${o.reasons.join('; ')}` : ''}`,
                ),
              onError: (error) => say(errorMessage(error)),
            })
          : undefined;
      if (flags.once) {
        threshold?.stop();
        await threshold?.check();
        return;
      }
      const triggers: Trigger[] = [];
      if (threshold) triggers.push(threshold);
      if (flags.schedule) {
        triggers.push(
          startCronTrigger({
            schedule: flags.schedule,
            ...(flags.timezone ? { timezone: flags.timezone } : {}),
            fire,
            onError: (error) => say(errorMessage(error)),
          }),
        );
      }
      say(
        `watching ${flags.model}${flags.schedule ? ` on schedule "${flags.schedule}"` : ''}${thresholds ? ` and thresholds on ${url}` : ''}; Ctrl-C to stop`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          for (const trigger of triggers) trigger.stop();
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    },
  );
}
