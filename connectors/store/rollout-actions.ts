/**
 * The rollout actions (`mscr rollout start|status|promote|abort`, the admin API, the
 * controller's automatic decisions and a retraining run that ends in a canary), written once
 * over the model store: they change only the store, and every replica follows at its next
 * poll. Each action is recorded with the decisions.
 */
import { MscrError } from '../errors.ts';
import { isVersionNumber, validateModelName } from '../ms/manifest.ts';
import type { ModelStore } from './model-store.ts';
import {
  DEFAULT_STEPS,
  DEFAULT_STEP_EVERY_MS,
  isActive,
  validateSteps,
  validateThresholds,
  type RolloutDecisionRecord,
  type RolloutState,
  type RolloutStore,
} from './rollout.ts';

export interface RolloutDeps {
  store: ModelStore;
  rollouts: RolloutStore;
  now?: () => Date;
}

/** The alias a promotion moves (and where the stable version is read from when not given). */
export const STABLE_ALIAS = 'stable';

export interface StartRequest {
  model: string;
  mode: 'shadow' | 'canary';
  /** Canary: the first weight in percent, (0, 100). */
  weight?: number;
  /** Default: the newest ready version. */
  candidate?: number;
  /** Default: the `stable` alias, else the newest ready version other than the candidate. */
  stable?: number;
  steps?: number[];
  stepEveryMs?: number;
  thresholds?: unknown;
}

const bad = (message: string) => new MscrError('bad_request', message);

function model(name: unknown): string {
  if (typeof name !== 'string') throw bad('model must be a string');
  try {
    return validateModelName(name);
  } catch (error) {
    throw bad((error as Error).message);
  }
}

function decision(
  state: RolloutState,
  kind: RolloutDecisionRecord['decision'],
  by: string,
  reason: string,
  at: string,
  figures: Record<string, unknown> = {},
): Omit<RolloutDecisionRecord, 'id'> {
  return {
    model: state.model,
    at,
    decision: kind,
    by,
    reason,
    stable: state.stable,
    candidate: state.candidate,
    mode: state.mode,
    weight: state.weight,
    figures,
    next: { mode: state.mode, weight: state.weight, phase: state.phase },
  };
}

export async function startRollout(
  deps: RolloutDeps,
  request: StartRequest,
  by: string,
): Promise<RolloutState> {
  const name = model(request.model);
  if (request.mode !== 'shadow' && request.mode !== 'canary')
    throw bad('mode must be shadow or canary');
  for (const key of ['candidate', 'stable'] as const) {
    if (request[key] !== undefined && !isVersionNumber(request[key]))
      throw bad(`${key} must be a positive integer version`);
  }
  const stepEveryMs = request.stepEveryMs ?? DEFAULT_STEP_EVERY_MS;
  if (typeof stepEveryMs !== 'number' || !Number.isFinite(stepEveryMs) || stepEveryMs < 0)
    throw bad('stepEvery must be a non-negative duration');
  const thresholds = validateThresholds(request.thresholds ?? {});
  let steps: number[];
  let weight = 0;
  if (request.mode === 'canary') {
    weight = request.weight ?? (request.steps ?? DEFAULT_STEPS)[0] ?? 0;
    if (typeof weight !== 'number' || !(weight > 0 && weight < 100))
      throw bad('the canary weight must be a percentage above 0 and below 100');
    const rest = validateSteps(request.steps ?? DEFAULT_STEPS).filter((s) => s > weight);
    steps = [weight, ...rest];
  } else {
    steps = request.steps === undefined ? [] : validateSteps(request.steps);
  }

  const versions = await deps.store.listVersions(name);
  if (versions.length === 0) throw new MscrError('not_found', `model ${name} has no ready version`);
  const candidate = request.candidate ?? versions.at(-1) ?? 0;
  if (!versions.includes(candidate))
    throw new MscrError('not_found', `version ${candidate} of model ${name} is not ready`);
  const aliased = await deps.store.getAlias(name, STABLE_ALIAS);
  const stable =
    request.stable ??
    (aliased !== undefined && aliased !== candidate
      ? aliased
      : versions.filter((v) => v !== candidate).at(-1));
  if (stable === undefined)
    throw bad(`model ${name} has no other ready version to compare version ${candidate} with`);
  if (!versions.includes(stable))
    throw new MscrError('not_found', `version ${stable} of model ${name} is not ready`);
  if (stable === candidate)
    throw bad(`version ${candidate} is the stable version already: name another candidate`);

  const current = await deps.rollouts.read(name);
  if (isActive(current)) {
    throw new MscrError(
      'conflict',
      `a rollout of ${name} (version ${current.candidate} against ${current.stable}) is running: promote or abort it first`,
    );
  }
  const at = (deps.now ?? (() => new Date()))().toISOString();
  const state: RolloutState = {
    model: name,
    stable,
    candidate,
    mode: request.mode,
    phase: 'running',
    weight,
    steps,
    step: 0,
    stepEveryMs,
    thresholds,
    startedAt: at,
    updatedAt: at,
    stepStartedAt: at,
    reason: `started by ${by}`,
  };
  await deps.rollouts.record(decision(state, 'start', by, state.reason ?? '', at));
  await deps.rollouts.write(state);
  return state;
}

async function running(deps: RolloutDeps, name: string): Promise<RolloutState> {
  const state = await deps.rollouts.read(model(name));
  if (state === undefined) throw new MscrError('not_found', `model ${name} has no rollout`);
  if (!isActive(state))
    throw new MscrError('conflict', `the rollout of ${name} is over (${state.phase})`);
  return state;
}

/** Ends a rollout: the candidate becomes stable (the alias moves) or is rolled back. */
export async function finishRollout(
  deps: RolloutDeps,
  state: RolloutState,
  outcome: 'promote' | 'rollback',
  by: string,
  reason: string,
  figures: Record<string, unknown> = {},
): Promise<RolloutState> {
  const at = (deps.now ?? (() => new Date()))().toISOString();
  // The alias first: if the state write then fails, stable already serves the candidate.
  if (outcome === 'promote') await deps.store.setAlias(state.model, STABLE_ALIAS, state.candidate);
  const next: RolloutState = {
    ...state,
    mode: 'off',
    weight: outcome === 'promote' ? 100 : 0,
    phase: outcome === 'promote' ? 'promoted' : 'rolled_back',
    updatedAt: at,
    stepStartedAt: at,
    reason: reason.slice(0, 1000),
  };
  // The evidence before the state: whoever sees the new state finds the decision that made it.
  await deps.rollouts.record({
    ...decision(state, outcome, by, reason, at, figures),
    next: { mode: next.mode, weight: next.weight, phase: next.phase },
  });
  await deps.rollouts.write(next);
  return next;
}

/** Moves a canary to `weight` (or a shadow to its first canary step). */
export async function advanceRollout(
  deps: RolloutDeps,
  state: RolloutState,
  weight: number,
  by: string,
  reason: string,
  figures: Record<string, unknown> = {},
): Promise<RolloutState> {
  const at = (deps.now ?? (() => new Date()))().toISOString();
  const index = state.steps.indexOf(weight);
  const next: RolloutState = {
    ...state,
    mode: 'canary',
    weight,
    step: index === -1 ? state.step : index,
    updatedAt: at,
    stepStartedAt: at,
    reason: reason.slice(0, 1000),
  };
  await deps.rollouts.record({
    ...decision(state, 'advance', by, reason, at, figures),
    next: { mode: next.mode, weight: next.weight, phase: next.phase },
  });
  await deps.rollouts.write(next);
  return next;
}

export async function promoteRollout(deps: RolloutDeps, name: string, by: string) {
  return finishRollout(deps, await running(deps, name), 'promote', by, `promoted by ${by}`);
}

export async function abortRollout(deps: RolloutDeps, name: string, by: string) {
  return finishRollout(deps, await running(deps, name), 'rollback', by, `aborted by ${by}`);
}

export async function rolloutStatus(
  deps: RolloutDeps,
  name: string,
  options: { decisions?: number } = {},
): Promise<{ model: string; rollout: RolloutState | null; decisions: RolloutDecisionRecord[] }> {
  const valid = model(name);
  const [state, decisions] = await Promise.all([
    deps.rollouts.read(valid),
    deps.rollouts.decisions(valid, { limit: options.decisions ?? 10 }),
  ]);
  return { model: valid, rollout: state ?? null, decisions };
}
