/**
 * A `RetrainLauncher` (SR connector) that runs each job as a child process, for the Service
 * on one machine: training never runs on the serving process's event loop, and a crash of
 * the job cannot take the Service down. In a cluster the composition root gives the Service
 * a launcher that creates a Kubernetes Job from the retraining CronJob instead.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { MscrError } from '../connectors/errors.ts';
import type { RetrainLauncher, RetrainRun } from '../connectors/sr/index.ts';
import { newRunId, type RunStore } from '../connectors/sr/run-store.ts';
import type { RunPlan } from '../connectors/sr/train.ts';

export interface ProcessLauncherOptions {
  runs: RunStore;
  /**
   * The command of one run: executable and arguments, given the model, run id, trigger and
   * (for `POST /mscr/train`) the run's plan: data, architecture, hyperparameters, search.
   */
  command: (
    model: string,
    runId: string,
    trigger: RetrainRun['trigger'],
    plan?: RunPlan,
  ) => { file: string; args: string[] };
  /** Where each run's output goes (`<logDir>/<model>-<runId>.log`). */
  logDir: string;
  env?: NodeJS.ProcessEnv;
  /** Told when a run's process ends. */
  onExit?: (model: string, runId: string, code: number | null) => void;
}

/**
 * Settles a run whose job died without settling it (OOM, SIGKILL, a crash, a failed Job):
 * records it as failed with `why` unless it recorded an outcome, and gives back the model's
 * lease if this run still holds it, so the next run need not wait for the lease to expire.
 */
export async function settleDeadRun(
  runs: RunStore,
  run: { model: string; runId: string; trigger: RetrainRun['trigger'] },
  why: string,
): Promise<void> {
  const { model, runId, trigger } = run;
  const record = (await runs.list(model, { limit: 200 })).find((r) => r.id === runId);
  if (record === undefined || record.outcome === 'running') {
    await runs.save({
      ...(record ?? { id: runId, model, trigger, startedAt: new Date().toISOString() }),
      outcome: 'failed',
      finishedAt: new Date().toISOString(),
      message: why,
    });
  }
  const lease = await runs.current(model);
  if (lease?.runId === runId) await runs.release(lease);
}

/** The record a launcher writes when it starts a run, before the job writes its own. */
export function startingRecord(
  model: string,
  runId: string,
  trigger: RetrainRun['trigger'],
  plan: RunPlan | undefined,
): RetrainRun {
  return {
    id: runId,
    model,
    trigger,
    startedAt: new Date().toISOString(),
    outcome: 'running',
    message: 'starting',
    ...(plan ? { parameters: { plan } } : {}),
  };
}

export function createProcessLauncher(
  options: ProcessLauncherOptions,
): RetrainLauncher & { running(): number } {
  const children = new Set<string>();
  /**
   * After a job process ends: a job that was killed (OOM, SIGKILL, a crash) could neither
   * record its outcome nor give its lease back, which would block the model's retraining
   * until the lease expires (2 h). The launcher saw it die, so it does both: the run is
   * recorded as failed, and the lease is released if it is still this run's.
   */
  const settle = async (
    model: string,
    runId: string,
    trigger: RetrainRun['trigger'],
    code: number | null,
    signal: NodeJS.Signals | null,
  ): Promise<void> => {
    try {
      const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
      await settleDeadRun(
        options.runs,
        { model, runId, trigger },
        `the retraining process ${how} before it recorded an outcome`,
      );
    } catch {
      // The store is unreachable: the lease then expires on its own, as before.
    }
  };
  /** Models whose start is between its first check and its child being known. */
  const starting = new Set<string>();
  return {
    running: () => children.size,
    async start(model, trigger, plan) {
      // Claimed before the first await: two requests at once must not both pass the lease
      // check below and spawn two jobs (the second would lose the lease and leave a failed run).
      if (starting.has(model)) {
        throw new MscrError('conflict', `a retraining run for ${model} is already starting`);
      }
      starting.add(model);
      try {
        return await spawnJob(model, trigger, plan);
      } finally {
        starting.delete(model);
      }
    },
    runs: (model, opts) => options.runs.list(model, opts),
    run: (model, runId) => options.runs.get(model, runId),
  };

  async function spawnJob(
    model: string,
    trigger: RetrainRun['trigger'],
    plan: RunPlan | undefined,
  ): Promise<{ runId: string }> {
    // Answer 409 now when the lease is held; the job itself re-checks it atomically.
    const lease = await options.runs.current(model);
    if (lease && Date.parse(lease.expiresAt) > Date.now()) {
      throw new MscrError(
        'conflict',
        `a retraining run for ${model} is already running (run ${lease.runId} on ${lease.holder})`,
      );
    }
    // A job spawned here that has not taken the lease yet.
    if ([...children].some((key) => key.startsWith(`${model}/`))) {
      throw new MscrError('conflict', `a retraining run for ${model} is already starting`);
    }
    const runId = newRunId();
    // A record at once, so the run can be looked up (GET /mscr/train/{id}) before the job
    // has started and written its own; the job replaces it, and `settle` fails it if the job dies.
    await options.runs.save(startingRecord(model, runId, trigger, plan));
    const { file, args } = options.command(model, runId, trigger, plan);
    await mkdir(options.logDir, { recursive: true });
    const log = createWriteStream(path.join(options.logDir, `${model}-${runId}.log`));
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const key = `${model}/${runId}`;
    children.add(key);
    child.on('error', () => undefined);
    child.on('close', (code, signal) => {
      void settle(model, runId, trigger, code, signal).finally(() => {
        children.delete(key);
        log.end();
        options.onExit?.(model, runId, code);
      });
    });
    return { runId };
  }
}
