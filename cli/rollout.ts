/**
 * `mscr rollout start|status|promote|abort`: progressive delivery on a model store. The
 * commands change only the store; every replica of `mscr serve` follows at its next poll and
 * its controller judges the rollout every `--rollout-interval`.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { MscrError } from '../connectors/errors.ts';
import { openObjectStore, openStore } from '../connectors/store/index.ts';
import { createRolloutStore, type RolloutState } from '../connectors/store/rollout.ts';
import {
  abortRollout,
  promoteRollout,
  rolloutStatus,
  startRollout,
  type RolloutDeps,
} from '../connectors/store/rollout-actions.ts';
import { DEFAULT_STORE, duration } from './options.ts';
import { formatTable, printJson } from './output.ts';

interface RolloutFlags {
  store: string;
  model: string;
  json?: boolean;
}

interface StartFlags extends RolloutFlags {
  shadow?: boolean;
  canary?: number;
  candidate?: number;
  stable?: number;
  steps?: number[];
  stepEvery?: number;
  minRequests?: number;
  thresholds?: string;
}

/** `10`, `10%` or `2.5%` -> 10, 10, 2.5. */
export function percentage(value: string): number {
  const match = /^(\d{1,3}(?:\.\d{1,3})?)%?$/.exec(value.trim());
  const number = match?.[1] === undefined ? NaN : Number(match[1]);
  if (!(number > 0 && number < 100))
    throw new InvalidArgumentError(
      `expected a percentage above 0 and below 100, such as 10%, got ${JSON.stringify(value)}`,
    );
  return number;
}

export function steps(value: string): number[] {
  const parts = value.split(',').map((part) => part.trim().replace(/%$/, ''));
  if (
    parts.length === 0 ||
    parts.length > 20 ||
    !parts.every((p) => /^\d{1,3}(\.\d{1,3})?$/.test(p))
  )
    throw new InvalidArgumentError(
      `expected ascending percentages ending at 100, such as 5,25,50,100, got ${JSON.stringify(value)}`,
    );
  return parts.map(Number);
}

function version(value: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value))
    throw new InvalidArgumentError(`expected a version number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function count(value: string): number {
  if (!/^\d{1,9}$/.test(value))
    throw new InvalidArgumentError(`expected a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function depsOf(uri: string): RolloutDeps {
  return {
    store: openStore(uri),
    rollouts: createRolloutStore(openObjectStore(uri, process.env, { createRoot: false })),
  };
}

function describeState(state: RolloutState): string {
  const share = state.mode === 'canary' ? ` at ${state.weight} %` : '';
  const steps = state.steps.length > 0 ? `, steps ${state.steps.join(',')}` : '';
  return `${state.model}: ${state.phase} ${state.mode}${share}, candidate version ${state.candidate} against stable ${state.stable}${steps}${state.reason ? ` (${state.reason})` : ''}`;
}

function withCommon(command: Command): Command {
  return command
    .option(
      '--store <uri>',
      'model store URI (file://, s3://, gs://)',
      process.env.MSCR_STORE || DEFAULT_STORE,
    )
    .requiredOption('--model <name>', 'model name')
    .option('--json', 'print JSON');
}

export function registerRolloutCommand(program: Command): void {
  const rollout = program
    .command('rollout')
    .description(
      'progressive delivery: shadow or canary a candidate version, promoted or rolled back on live evidence',
    );

  withCommon(rollout.command('start'))
    .description('start a shadow or canary rollout of a candidate version (default: the newest)')
    .option(
      '--shadow',
      'the candidate answers a copy of every request; its answers are compared, never returned',
    )
    .option('--canary <pct>', 'send this share of callers to the candidate, e.g. 10%', percentage)
    .option(
      '--candidate <version>',
      'the version to roll out (default: the newest ready version)',
      version,
    )
    .option(
      '--stable <version>',
      'the version to compare with (default: the stable alias)',
      version,
    )
    .option('--steps <list>', 'canary weights, ending at 100 (default 5,25,50,100)', steps)
    .option('--step-every <duration>', 'least time at each step, e.g. 10m (default 10m)', duration)
    .option(
      '--min-requests <n>',
      'requests each version needs before any decision (default 50)',
      count,
    )
    .option(
      '--thresholds <json>',
      'other thresholds as JSON, e.g. {"maxPsi":0.1,"minAgreement":0.95}',
    )
    .action(async (flags: StartFlags) => {
      if (Boolean(flags.shadow) === (flags.canary !== undefined))
        throw new MscrError('bad_request', 'give exactly one of --shadow and --canary <pct>');
      let thresholds: Record<string, unknown> = {};
      if (flags.thresholds !== undefined) {
        try {
          thresholds = JSON.parse(flags.thresholds) as Record<string, unknown>;
        } catch {
          throw new MscrError(
            'bad_request',
            '--thresholds must be a JSON object, e.g. {"maxPsi":0.1}',
          );
        }
        if (typeof thresholds !== 'object' || thresholds === null || Array.isArray(thresholds))
          throw new MscrError(
            'bad_request',
            '--thresholds must be a JSON object, e.g. {"maxPsi":0.1}',
          );
      }
      if (flags.minRequests !== undefined)
        thresholds = { ...thresholds, minRequests: flags.minRequests };
      const state = await startRollout(
        depsOf(flags.store),
        {
          model: flags.model,
          mode: flags.shadow ? 'shadow' : 'canary',
          ...(flags.canary !== undefined ? { weight: flags.canary } : {}),
          ...(flags.candidate !== undefined ? { candidate: flags.candidate } : {}),
          ...(flags.stable !== undefined ? { stable: flags.stable } : {}),
          ...(flags.steps !== undefined ? { steps: flags.steps } : {}),
          ...(flags.stepEvery !== undefined ? { stepEveryMs: flags.stepEvery } : {}),
          thresholds,
        },
        'cli',
      );
      if (flags.json) return printJson(state);
      console.log(`started: ${describeState(state)}`);
    });

  withCommon(rollout.command('status'))
    .description('show the rollout of a model and its last decisions with their figures')
    .action(async (flags: RolloutFlags) => {
      const status = await rolloutStatus(depsOf(flags.store), flags.model);
      if (flags.json) return printJson(status);
      if (status.rollout === null) {
        console.log(`${status.model}: no rollout`);
        return;
      }
      console.log(describeState(status.rollout));
      if (status.decisions.length > 0) {
        console.log(
          formatTable(
            ['AT', 'DECISION', 'BY', 'WEIGHT', 'REASON'],
            status.decisions.map((d) => [
              d.at,
              d.decision,
              d.by,
              `${d.weight}%`,
              d.reason.slice(0, 120),
            ]),
          ),
        );
      }
    });

  for (const [name, act, what] of [
    ['promote', promoteRollout, 'make the candidate stable now (the stable alias moves)'],
    ['abort', abortRollout, 'roll the candidate back now; stable takes all traffic'],
  ] as const) {
    withCommon(rollout.command(name))
      .description(what)
      .action(async (flags: RolloutFlags) => {
        const state = await act(depsOf(flags.store), flags.model, 'cli');
        if (flags.json) return printJson(state);
        console.log(`${name === 'promote' ? 'promoted' : 'aborted'}: ${describeState(state)}`);
      });
  }
}
