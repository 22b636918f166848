/**
 * Training and evaluation on a running Service, through the SDK (admin token):
 *
 *     mscr train --remote <url> --model m --data s3://... [--search lr=...] [--follow]
 *     mscr train-status <id> --remote <url> [--follow] [--json]
 *     mscr evaluate --remote <url> --model m --data s3://... [--version 3 | --version stable]
 *
 * `--follow` prints the run's progress (the Service's Server-Sent Events) as it comes, then
 * the report; the exit code says how the run ended (1 when it failed).
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { createClient, type MscrClient, type TrainEvent } from '../client/index.ts';
import { MscrError, errorMessage } from '../connectors/errors.ts';
import type { RetrainRun } from '../connectors/sr/index.ts';
import {
  checkSearchMode,
  checkTrials,
  MAX_TRIALS,
  parseSearchFlag,
  type Hyperparameters,
  type SearchParameter,
  type SearchSpec,
  type TrainRequest,
} from '../connectors/sr/train.ts';
import { printJson } from './output.ts';

export interface RemoteTrainFlags {
  remote?: string;
  token?: string;
  follow?: boolean;
  candidates?: number;
  search?: Partial<Record<SearchParameter, number[]>>;
  searchMode?: 'grid' | 'random';
}

/** A validator of connectors/ as a commander argument parser (its message, as a usage error). */
export function cliArg<T>(check: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return check(value);
    } catch (error) {
      throw new InvalidArgumentError(errorMessage(error));
    }
  };
}

export function serviceUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
    return url.href.replace(/\/$/, '');
  } catch {
    throw new InvalidArgumentError(
      `expected the service's base URL, e.g. http://localhost:8080, got ${JSON.stringify(value)}`,
    );
  }
}

/**
 * `--candidates`, `--search` (repeated), `--search-mode`: a search of several candidates,
 * for `mscr retrain` (here) and `mscr train --remote` (on a Service); `note` prefixes help.
 */
export function addSearchOptions(command: Command, note = ''): Command {
  return command
    .option(
      '--candidates <n>',
      `${note}train n candidates (the trial budget, at most ${MAX_TRIALS}) over the --search space; only the best is gated`,
      cliArg((value) => checkTrials(value, '--candidates')),
    )
    .option(
      '--search <name=values>',
      `${note}a hyperparameter and its values, e.g. lr=0.001,0.003 or batchSize=16,32 (repeat per parameter: lr, batchSize, epochs)`,
      (value: string, previous: Partial<Record<SearchParameter, number[]>> | undefined) =>
        cliArg((text: string) => parseSearchFlag(text, previous ?? {}))(value),
    )
    .option(
      '--search-mode <mode>',
      `${note}grid (the combinations in order) or random (a seeded sample of them); default grid`,
      cliArg((value) => checkSearchMode(value, '--search-mode')),
    );
}

/** The remote options of `mscr train`. */
export function addRemoteTrainOptions(command: Command): Command {
  return addSearchOptions(
    command
      .option(
        '--remote <url>',
        'train on this running Service (POST /mscr/train) instead of here',
        serviceUrl,
      )
      .option('--token <token>', 'with --remote: the admin token [env MSCR_ADMIN_TOKEN]')
      .option('--follow', "with --remote: print the run's progress until its report"),
    'with --remote: ',
  );
}

/** The search the flags give (the budget defaults to the whole space), or none. */
export function searchFromFlags(
  flags: Pick<RemoteTrainFlags, 'candidates' | 'search' | 'searchMode'>,
  seed: number | undefined,
): SearchSpec | undefined {
  if (flags.search === undefined) {
    if (flags.candidates !== undefined || flags.searchMode !== undefined) {
      throw new MscrError(
        'config',
        '--candidates and --search-mode need a search space: --search lr=0.001,0.003 [--search batchSize=16,32]',
      );
    }
    return undefined;
  }
  const size = Object.values(flags.search).reduce((n, values) => n * values.length, 1);
  return {
    mode: flags.searchMode ?? 'grid',
    space: flags.search,
    trials: flags.candidates ?? Math.min(size, MAX_TRIALS),
    ...(seed !== undefined ? { seed } : {}),
  };
}

function tokenOf(flags: { token?: string }): string {
  const token = flags.token ?? process.env.MSCR_ADMIN_TOKEN;
  if (!token) throw new MscrError('config', 'no admin token: pass --token or set MSCR_ADMIN_TOKEN');
  return token;
}

/** One progress event as a line for people. */
export function formatEvent(event: TrainEvent): string | undefined {
  const data = event.data as { type?: string } & Record<string, unknown>;
  if (event.event === 'state') return String(data.message ?? '');
  if (event.event === 'epoch') {
    const metrics = Object.entries((data.metrics as Record<string, number>) ?? {})
      .map(([k, v]) => `${k} ${v.toFixed(4)}`)
      .join(', ');
    return `trial ${String(data.trial)} epoch ${String(data.epoch)}/${String(data.epochs)}: loss ${Number(data.loss).toFixed(4)}${metrics ? `, ${metrics}` : ''}`;
  }
  if (event.event === 'trial') {
    const record = data.record as {
      trial: number;
      metrics?: Record<string, number>;
      error?: string;
      hyperparameters: Hyperparameters;
    };
    const metrics = Object.entries(record.metrics ?? {})
      .map(([k, v]) => `${k}=${v.toFixed(4)}`)
      .join(' ');
    return `trial ${record.trial} ${JSON.stringify(record.hyperparameters)}: ${record.error ? `failed: ${record.error}` : metrics}`;
  }
  if (event.event === 'report') {
    const run = event.data as RetrainRun;
    return `run ${run.id} of ${run.model}: ${run.outcome.toUpperCase()}${run.message ? ` (${run.message})` : ''}${run.published ? `; published version ${run.published.version}` : ''}`;
  }
  return undefined;
}

/** Follows a run to its report, printing each event; the report's run. */
async function follow(
  client: MscrClient,
  id: string,
  token: string,
  json: boolean,
): Promise<RetrainRun | undefined> {
  let report: RetrainRun | undefined;
  for await (const event of client.trainEvents(id, { token })) {
    if (json) process.stdout.write(`${JSON.stringify(event)}\n`);
    else {
      const line = formatEvent(event);
      if (line !== undefined) console.log(line);
    }
    if (event.event === 'report') report = event.data as RetrainRun;
  }
  return report;
}

function exitFor(run: RetrainRun | undefined): void {
  if (run?.outcome === 'failed') process.exitCode = 1;
}

/** `mscr train --remote`: submits, and with --follow follows. */
export async function trainRemote(
  flags: RemoteTrainFlags & {
    model: string;
    arch?: string;
    data: string[];
    epochs?: number;
    batchSize?: number;
    learningRate?: number;
    testFraction?: number;
    limit?: number;
    seed?: number;
    json?: boolean;
  },
): Promise<void> {
  const token = tokenOf(flags);
  const hyperparameters: Hyperparameters = {
    ...(flags.epochs !== undefined ? { epochs: flags.epochs } : {}),
    ...(flags.batchSize !== undefined ? { batchSize: flags.batchSize } : {}),
    ...(flags.learningRate !== undefined ? { learningRate: flags.learningRate } : {}),
    ...(flags.testFraction !== undefined ? { testFraction: flags.testFraction } : {}),
    ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
  };
  const search = searchFromFlags(flags, flags.seed);
  const request: TrainRequest = {
    model: flags.model,
    data: flags.data,
    ...(flags.arch ? { architecture: flags.arch } : {}),
    ...(Object.keys(hyperparameters).length > 0 ? { hyperparameters } : {}),
    ...(search ? { search } : {}),
  };
  const client = createClient({ baseUrl: flags.remote as string, timeoutMs: 30_000 });
  const started = await client.train(request, { token });
  if (flags.json && !flags.follow) return printJson(started);
  if (!flags.json) {
    console.log(
      `started training run ${started.id}; follow it: mscr train-status ${started.id} --remote ${flags.remote} --follow`,
    );
  }
  if (flags.follow) exitFor(await follow(client, started.id, token, flags.json === true));
}

export function registerTrainRemoteCommands(program: Command): void {
  program
    .command('train-status <id>')
    .description(
      'show a training run started on a Service with mscr train --remote (or POST /mscr/train)',
    )
    .requiredOption('--remote <url>', 'the Service, e.g. http://localhost:8080', serviceUrl)
    .option('--token <token>', 'the admin token [env MSCR_ADMIN_TOKEN]')
    .option('--follow', "print the run's progress until its report")
    .option('--json', 'print JSON (with --follow: one event per line)')
    .action(
      async (
        id: string,
        flags: { remote: string; token?: string; follow?: boolean; json?: boolean },
      ) => {
        const token = tokenOf(flags);
        const client = createClient({ baseUrl: flags.remote, timeoutMs: 30_000 });
        if (flags.follow) return exitFor(await follow(client, id, token, flags.json === true));
        const run = await client.trainStatus(id, { token });
        if (flags.json) return printJson(run);
        console.log(formatEvent({ event: 'report', data: run }));
        for (const trial of run.trials ?? []) {
          console.log(
            `  ${formatEvent({ event: 'trial', data: { type: 'trial', record: trial } })}${trial.best ? ' (best)' : ''}`,
          );
        }
      },
    );
}

/** `mscr evaluate --remote`: the Service scores a version on data. */
export async function evaluateRemote(flags: {
  remote: string;
  token?: string;
  model: string;
  data: string[];
  version: string;
  limit?: number;
  json?: boolean;
}): Promise<void> {
  const token = tokenOf(flags);
  const ref = flags.version;
  const selector =
    ref === 'latest' ? {} : /^[0-9]+$/.test(ref) ? { version: Number(ref) } : { alias: ref };
  const client = createClient({ baseUrl: flags.remote, timeoutMs: 15 * 60_000, retries: 0 });
  const result = await client.evaluate(
    flags.model,
    { data: flags.data, ...selector, ...(flags.limit !== undefined ? { limit: flags.limit } : {}) },
    { token },
  );
  if (flags.json) return printJson(result);
  console.log(`${result.model} version ${result.version} on ${flags.data.join(', ')}:`);
  for (const [name, value] of Object.entries(result.metrics)) {
    console.log(`  ${name.padEnd(10)} ${Number.isInteger(value) ? value : value.toFixed(4)}`);
  }
}
