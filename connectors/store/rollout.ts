/**
 * Progressive delivery, the typed state (issue 19): one rollout per model, kept in the model
 * store beside the aliases, so every replica reads the same state and it survives restarts.
 *
 *     <model>/rollout.json                              the current rollout (one object: one write)
 *     <model>/rollout-decisions/<stamp>-<id>.json       every decision with the figures it used
 *
 * Modes: `shadow` (the candidate answers a copy of every request; its answers are recorded,
 * never returned), `canary` (a share `weight` in percent of the callers go to the candidate),
 * `off` (no traffic to the candidate: the rollout has ended). Phases: `running`, then
 * `promoted` (the `stable` alias moved to the candidate) or `rolled_back` (the candidate is
 * kept away from traffic until a new rollout names it).
 *
 * Writes are whole-object replaces (atomic on every adapter: readers never see half a
 * state); two writers are last-writer-wins, as for aliases.
 */
import { randomBytes } from 'node:crypto';
import { MscrError, errorMessage, isMscrError } from '../errors.ts';
import { isVersionNumber, validateModelName } from '../ms/manifest.ts';
import type { ObjectStore } from './object-store.ts';

export type RolloutMode = 'off' | 'shadow' | 'canary';
export type RolloutPhase = 'running' | 'promoted' | 'rolled_back';
export type RolloutRole = 'stable' | 'candidate';

/** When the candidate is judged worse than stable; figures compare the same window. */
export interface RolloutThresholds {
  /** No decision before each side has answered this many requests in the window. */
  minRequests: number;
  /** Candidate error rate may exceed stable's by at most this (absolute, 0..1). */
  maxErrorRateIncrease: number;
  /** Candidate p99 latency may be at most this multiple of stable's (plus `latencySlackMs`). */
  maxLatencyRatio: number;
  /** Absolute slack on the latency comparison, so two sub-millisecond p99s never fail on noise. */
  latencySlackMs: number;
  /** Candidate feedback accuracy may be below stable's by at most this (when both have `minFeedback`). */
  maxAccuracyDrop: number;
  /** Feedback records each side needs before accuracy counts. */
  minFeedback: number;
  /** Largest population stability index between the two prediction distributions. */
  maxPsi: number;
  /** Shadow mode: smallest share of requests on which both versions give the same answer. */
  minAgreement: number;
}

export const DEFAULT_THRESHOLDS: Readonly<RolloutThresholds> = Object.freeze({
  minRequests: 50,
  maxErrorRateIncrease: 0.01,
  maxLatencyRatio: 2,
  latencySlackMs: 50,
  maxAccuracyDrop: 0.05,
  minFeedback: 20,
  maxPsi: 0.25,
  minAgreement: 0.9,
});

export const DEFAULT_STEPS: readonly number[] = Object.freeze([5, 25, 50, 100]);
export const DEFAULT_STEP_EVERY_MS = 10 * 60_000;

export interface RolloutState {
  model: string;
  stable: number;
  candidate: number;
  mode: RolloutMode;
  phase: RolloutPhase;
  /** Canary: percent of callers sent to the candidate, 0..100. */
  weight: number;
  /** Canary weights in order; promotion follows a passing window at the last (100). */
  steps: number[];
  /** Index into `steps` of the current weight (canary). */
  step: number;
  /** Least time at one step before it may advance. */
  stepEveryMs: number;
  thresholds: RolloutThresholds;
  startedAt: string;
  updatedAt: string;
  /** When the current step (or mode) began: the analysis window starts here. */
  stepStartedAt: string;
  /** Why the rollout is in its phase (the last decision's reason, or who acted). */
  reason?: string;
}

/** One analyser decision, with every figure it used: kept as the evidence. */
export interface RolloutDecisionRecord {
  id: string;
  model: string;
  at: string;
  /** `start` and a person's `rollback` (abort) are recorded too, so the history is whole. */
  decision: 'start' | 'advance' | 'hold' | 'promote' | 'rollback';
  /** `controller` (automatic) or `admin` / `cli` (a person). */
  by: string;
  reason: string;
  stable: number;
  candidate: number;
  mode: RolloutMode;
  weight: number;
  /** The figures of both sides and their comparisons. */
  figures: Record<string, unknown>;
  /** The state written after the decision (absent for `hold`). */
  next?: { mode: RolloutMode; weight: number; phase: RolloutPhase };
}

export const ROLLOUT_FILE = 'rollout.json';
export const DECISIONS_FOLDER = 'rollout-decisions';

/** Whether a rollout sends traffic (or copies of it) to its candidate. */
export function isActive(
  state: RolloutState | undefined,
): state is RolloutState & { phase: 'running'; mode: 'shadow' | 'canary' } {
  return state !== undefined && state.phase === 'running' && state.mode !== 'off';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isPercent = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 100;

/** Steps: 1..20 ascending percentages in (0, 100], the last one 100. */
export function validateSteps(steps: unknown): number[] {
  if (
    !Array.isArray(steps) ||
    steps.length === 0 ||
    steps.length > 20 ||
    !steps.every((s) => isPercent(s) && s > 0) ||
    steps.some((s, i) => i > 0 && (s as number) <= (steps[i - 1] as number)) ||
    steps.at(-1) !== 100
  ) {
    throw new MscrError(
      'bad_request',
      'steps must be 1 to 20 ascending percentages in (0, 100] ending at 100, e.g. 5,25,50,100',
    );
  }
  return [...(steps as number[])];
}

/** Fills defaults and checks every threshold; `bad_request` naming the bad one. */
export function validateThresholds(value: unknown = {}): RolloutThresholds {
  if (!isObject(value)) throw new MscrError('bad_request', 'thresholds must be a JSON object');
  const result: Record<string, number> = { ...DEFAULT_THRESHOLDS };
  for (const [key, given] of Object.entries(value)) {
    if (!Object.hasOwn(DEFAULT_THRESHOLDS, key)) {
      throw new MscrError(
        'bad_request',
        `unknown threshold ${JSON.stringify(key.slice(0, 40))}; known: ${Object.keys(DEFAULT_THRESHOLDS).join(', ')}`,
      );
    }
    const fraction = ['maxErrorRateIncrease', 'maxAccuracyDrop', 'minAgreement'].includes(key);
    const ok =
      typeof given === 'number' &&
      Number.isFinite(given) &&
      given >= 0 &&
      (!fraction || given <= 1) &&
      (key !== 'minRequests' && key !== 'minFeedback' ? true : Number.isSafeInteger(given));
    if (!ok) {
      throw new MscrError(
        'bad_request',
        `threshold ${key} must be a non-negative ${fraction ? 'fraction (0..1)' : key.startsWith('min') ? 'integer' : 'number'}`,
      );
    }
    result[key] = given;
  }
  return result as unknown as RolloutThresholds;
}

const TIMESTAMP = /^\d{4}-\d\d-\d\dT[\d:.]+Z$/;

/** Checks a parsed `rollout.json` (or a state about to be written); `integrity` naming what is wrong. */
export function validateRolloutState(value: unknown, where = 'rollout state'): RolloutState {
  const fail = (why: string): never => {
    throw new MscrError('integrity', `${where} is invalid: ${why}`);
  };
  if (!isObject(value)) return fail('not a JSON object');
  const v = value;
  if (typeof v.model !== 'string') fail('model is not a string');
  try {
    validateModelName(v.model as string);
  } catch (error) {
    fail(errorMessage(error));
  }
  if (!isVersionNumber(v.stable)) fail('stable is not a version number');
  if (!isVersionNumber(v.candidate)) fail('candidate is not a version number');
  if (v.stable === v.candidate) fail('stable and candidate are the same version');
  if (!['off', 'shadow', 'canary'].includes(v.mode as string))
    fail('mode is not off|shadow|canary');
  if (!['running', 'promoted', 'rolled_back'].includes(v.phase as string))
    fail('phase is not running|promoted|rolled_back');
  if (!isPercent(v.weight)) fail('weight is not a percentage 0..100');
  let steps: number[] = [];
  if (!(Array.isArray(v.steps) && v.steps.length === 0)) {
    try {
      steps = validateSteps(v.steps);
    } catch (error) {
      fail(errorMessage(error));
    }
  }
  if (!Number.isSafeInteger(v.step) || (v.step as number) < 0 || (v.step as number) > steps.length)
    fail('step is not an index into steps');
  if (typeof v.stepEveryMs !== 'number' || !(v.stepEveryMs >= 0) || !Number.isFinite(v.stepEveryMs))
    fail('stepEveryMs is not a non-negative number');
  let thresholds: RolloutThresholds = { ...DEFAULT_THRESHOLDS };
  try {
    thresholds = validateThresholds(v.thresholds);
  } catch (error) {
    fail(errorMessage(error));
  }
  for (const key of ['startedAt', 'updatedAt', 'stepStartedAt'] as const) {
    if (typeof v[key] !== 'string' || !TIMESTAMP.test(v[key]))
      fail(`${key} is not a UTC timestamp`);
  }
  if (v.reason !== undefined && (typeof v.reason !== 'string' || v.reason.length > 1000))
    fail('reason is not a string of at most 1000 characters');
  return {
    model: v.model as string,
    stable: v.stable as number,
    candidate: v.candidate as number,
    mode: v.mode as RolloutMode,
    phase: v.phase as RolloutPhase,
    weight: v.weight as number,
    steps,
    step: v.step as number,
    stepEveryMs: v.stepEveryMs as number,
    thresholds,
    startedAt: v.startedAt as string,
    updatedAt: v.updatedAt as string,
    stepStartedAt: v.stepStartedAt as string,
    ...(v.reason !== undefined ? { reason: v.reason as string } : {}),
  };
}

const encode = (value: unknown): Uint8Array =>
  new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);

/** Reads and writes rollout states and decision records over any object store. */
export interface RolloutStore {
  /** The model's rollout, or undefined when it never had one; `integrity` when the file is bad. */
  read(model: string): Promise<RolloutState | undefined>;
  /** Validates and replaces the model's rollout in one write. */
  write(state: RolloutState): Promise<void>;
  /** Keeps one decision record; returns its id. */
  record(decision: Omit<RolloutDecisionRecord, 'id'>): Promise<string>;
  /** The model's decisions, newest first. */
  decisions(model: string, options?: { limit?: number }): Promise<RolloutDecisionRecord[]>;
}

const DECISION_ID = /^\d{8}T\d{6}\d{3}Z-[0-9a-f]{8}$/;

export function createRolloutStore(objects: ObjectStore): RolloutStore {
  const key = (model: string) => `${validateModelName(model)}/${ROLLOUT_FILE}`;
  const folder = (model: string) => `${validateModelName(model)}/${DECISIONS_FOLDER}/`;
  const decode = (bytes: Uint8Array, where: string): unknown => {
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    } catch (error) {
      throw new MscrError('integrity', `${where} is not JSON: ${errorMessage(error)}`);
    }
  };
  return {
    async read(model) {
      const where = `${objects.uri}/${key(model)}`;
      let bytes: Uint8Array;
      try {
        bytes = await objects.get(key(model));
      } catch (error) {
        if (isMscrError(error, 'not_found')) return undefined;
        throw error;
      }
      const state = validateRolloutState(decode(bytes, where), where);
      if (state.model !== model) {
        throw new MscrError('integrity', `${where} names model ${state.model}, not ${model}`);
      }
      return state;
    },
    async write(state) {
      const valid = validateRolloutState(state);
      await objects.put(key(valid.model), encode(valid));
    },
    async record(decision) {
      const stamp = decision.at.replace(/[-:.]/g, '');
      const id = `${stamp}-${randomBytes(4).toString('hex')}`;
      if (!DECISION_ID.test(id)) {
        throw new MscrError(
          'bad_request',
          `decision time ${JSON.stringify(decision.at)} is not a full UTC timestamp`,
        );
      }
      await objects.put(`${folder(decision.model)}${id}.json`, encode({ id, ...decision }));
      return id;
    },
    async decisions(model, options = {}) {
      const prefix = folder(model);
      const { objects: names } = await objects.list(prefix);
      const limit = Math.max(1, Math.min(options.limit ?? 20, 500));
      const chosen = names
        .filter((name) => name.endsWith('.json') && DECISION_ID.test(name.slice(0, -5)))
        .sort()
        .reverse()
        .slice(0, limit);
      return Promise.all(
        chosen.map(
          async (name) =>
            decode(
              await objects.get(prefix + name),
              `${objects.uri}/${prefix}${name}`,
            ) as RolloutDecisionRecord,
        ),
      );
    },
  };
}
