/**
 * Progressive delivery's traffic split, on every replica: it holds each model's rollout state
 * (as the store source last emitted it, or as this replica's controller just wrote it) and
 * tells the data plane which version answers an unpinned request.
 *
 * - canary: a stable hash of the caller key (`x-mscr-caller`, else the request id) picks the
 *   bucket 0..9999; buckets below `weight * 100` go to the candidate. A caller that sends the
 *   same key sticks to one version while the weight stays; raising the weight only moves
 *   callers from stable to candidate, never back.
 * - shadow: stable answers; the candidate gets a copy (the data plane runs it after stable
 *   has answered, never awaited by the caller) and the two answers are compared.
 * - A version that is not loaded yet (or any more) is skipped: the candidate's callers are
 *   answered by stable until the candidate is AVAILABLE.
 *
 * What happens to each request is counted in the window of the current step (`window.ts`)
 * and in the metrics, labelled by version and rollout role.
 */
import { createHash } from 'node:crypto';
import client from 'prom-client';
import { isActive, type RolloutRole, type RolloutState } from '../../connectors/store/rollout.ts';
import type { TrafficEvent, TrafficRoute, TrafficRouter } from '../dataplane/index.ts';
import type { DesiredState } from '../reload/source.ts';
import { carryCallers, currentCaller } from './context.ts';
import { RolloutWindow, classesOf, windowKey } from './window.ts';

export const BUCKETS = 10_000;

/** The bucket 0..9999 of a caller key: the first 32 bits of its SHA-256. */
export function bucketOf(key: string): number {
  return createHash('sha256').update(key, 'utf8').digest().readUInt32BE(0) % BUCKETS;
}

/** Whether a caller in `bucket` goes to the candidate at `weight` percent. */
export function inCanary(bucket: number, weight: number): boolean {
  return bucket < Math.round(weight * (BUCKETS / 100));
}

/** Two answers agree when they predict the same class, or (no classes) values within 1 %. */
export function agreement(
  a: { output: Float32Array; shape: readonly number[] },
  b: { output: Float32Array; shape: readonly number[] },
): { rows: number; agreed: number } {
  const ca = classesOf(a.output, a.shape);
  const cb = classesOf(b.output, b.shape);
  if (ca.length > 0 && ca.length === cb.length) {
    return { rows: ca.length, agreed: ca.filter((c, i) => c === cb[i]).length };
  }
  const rows = a.shape[0] ?? 0;
  if (a.output.length !== b.output.length || rows === 0)
    return { rows: Math.max(rows, 1), agreed: 0 };
  const width = a.output.length / rows;
  let agreed = 0;
  for (let r = 0; r < rows; r++) {
    let same = true;
    for (let i = r * width; i < (r + 1) * width; i++) {
      const x = a.output[i] ?? 0;
      const y = b.output[i] ?? 0;
      if (Math.abs(x - y) > 0.01 * Math.max(1, Math.abs(x))) same = false;
    }
    if (same) agreed++;
  }
  return { rows, agreed };
}

export interface RolloutRouterOptions {
  /** Where the per-version, per-role metrics are registered (the Service's registry). */
  registry?: client.Registry;
  /** The caller key when a request carries none (default: a random one per request). */
  fallbackKey?: () => string;
  /**
   * The version that speaks for a model (metadata, drift signals) changed: stable while a
   * rollout runs, the winner right after it ends, undefined when the manager decides again.
   */
  onServingChange?: (model: string, version: number | undefined) => void;
}

export class RolloutRouter implements TrafficRouter {
  readonly #states = new Map<string, RolloutState>();
  readonly #windows = new Map<string, RolloutWindow>();
  /**
   * A rollout this replica's controller (or admin API) just ended: its winner answers at once,
   * until the next emission of the store brings the manager the same news (see `apply`).
   */
  readonly #pinned = new Map<string, number>();
  readonly #fallbackKey: () => string;
  readonly #onServingChange: ((model: string, version: number | undefined) => void) | undefined;
  readonly #requests: client.Counter<'model' | 'version' | 'role' | 'outcome'> | undefined;
  readonly #latency: client.Histogram<'model' | 'version' | 'role'> | undefined;
  readonly #shadow: client.Counter<'model' | 'version' | 'outcome'> | undefined;

  constructor(options: RolloutRouterOptions = {}) {
    this.#fallbackKey = options.fallbackKey ?? (() => String(Math.random()));
    this.#onServingChange = options.onServingChange;
    const registers = options.registry === undefined ? [] : [options.registry];
    if (options.registry !== undefined) {
      this.#requests = new client.Counter({
        name: 'mscr_rollout_requests_total',
        help: 'Inferences of models under a rollout, by version, rollout role (stable, candidate) and outcome',
        labelNames: ['model', 'version', 'role', 'outcome'],
        registers,
      });
      this.#latency = new client.Histogram({
        name: 'mscr_rollout_inference_duration_seconds',
        help: 'Inference time of models under a rollout, by version and rollout role',
        labelNames: ['model', 'version', 'role'],
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers,
      });
      this.#shadow = new client.Counter({
        name: 'mscr_rollout_shadow_total',
        help: 'Shadow copies answered by the candidate: agreed, disagreed, failed or skipped',
        labelNames: ['model', 'version', 'outcome'],
        registers,
      });
    }
  }

  /** The store source's emission: the model's rollout (or none) as the store holds it now. */
  update(desired: DesiredState): void {
    const before = this.preferred(desired.model);
    this.#pinned.delete(desired.model);
    if (desired.rollout === undefined) {
      this.#states.delete(desired.model);
      this.#windows.delete(desired.model);
    } else {
      this.#set(desired.rollout);
    }
    this.#notify(desired.model, before);
  }

  /**
   * A state this replica just wrote (so it acts on it before the next poll). An ended
   * rollout pins its winner: until the manager has the new desired state, its "serving"
   * version may still be the rolled-back candidate (the highest of the union).
   */
  apply(state: RolloutState): void {
    const before = this.preferred(state.model);
    this.#set(state);
    if (state.phase === 'rolled_back') this.#pinned.set(state.model, state.stable);
    else if (state.phase === 'promoted') this.#pinned.set(state.model, state.candidate);
    else this.#pinned.delete(state.model);
    this.#notify(state.model, before);
  }

  #notify(model: string, before: number | undefined): void {
    const after = this.preferred(model);
    if (after !== before) this.#onServingChange?.(model, after);
  }

  #set(state: RolloutState): void {
    this.#states.set(state.model, state);
    if (!isActive(state)) {
      this.#windows.delete(state.model);
      return;
    }
    if (state.mode !== 'shadow') carryCallers();
    const key = windowKey(state);
    if (this.#windows.get(state.model)?.key !== key) {
      this.#windows.set(state.model, new RolloutWindow(key));
    }
  }

  /**
   * The version that answers for the model when no caller is involved (metadata, drift
   * signals): the winner of a rollout this replica just ended, stable while one runs,
   * otherwise undefined (the manager's serving version).
   */
  preferred(model: string): number | undefined {
    const pinned = this.#pinned.get(model);
    if (pinned !== undefined) return pinned;
    const state = this.#states.get(model);
    return isActive(state) ? state.stable : undefined;
  }

  state(model: string): RolloutState | undefined {
    return this.#states.get(model);
  }

  /** Models with a running rollout. */
  active(): RolloutState[] {
    return [...this.#states.values()].filter(isActive);
  }

  /** The evidence of the model's current step on this replica. */
  window(model: string): RolloutWindow | undefined {
    return this.#windows.get(model);
  }

  roleOf(model: string, version: number): RolloutRole | undefined {
    const state = this.#states.get(model);
    if (!isActive(state)) return undefined;
    return version === state.candidate
      ? 'candidate'
      : version === state.stable
        ? 'stable'
        : undefined;
  }

  route(model: string): TrafficRoute | undefined {
    const state = this.#states.get(model);
    const pinned = this.#pinned.get(model);
    if (pinned !== undefined) return { versions: [pinned] };
    if (!isActive(state)) return undefined;
    if (state.mode === 'shadow') return { versions: [state.stable], shadow: state.candidate };
    const key = currentCaller() ?? this.#fallbackKey();
    return inCanary(bucketOf(key), state.weight)
      ? { versions: [state.candidate, state.stable] }
      : { versions: [state.stable] };
  }

  observe(event: TrafficEvent): void {
    const role = this.roleOf(event.model, event.version);
    if (role === undefined) return;
    const window = this.#windows.get(event.model);
    const labels = { model: event.model, version: String(event.version) };
    switch (event.kind) {
      case 'answer':
        window?.answer(role, event.ms, classesOf(event.output, event.shape));
        this.#requests?.inc({ ...labels, role, outcome: 'ok' });
        this.#latency?.observe({ ...labels, role }, event.ms / 1000);
        return;
      case 'error':
        window?.fail(role);
        this.#requests?.inc({ ...labels, role, outcome: 'error' });
        return;
      case 'shadow': {
        window?.answer(role, event.ms, classesOf(event.output, event.shape));
        const { rows, agreed } = agreement(event.primary, event);
        window?.compare(agreed, rows);
        this.#requests?.inc({ ...labels, role, outcome: 'ok' });
        this.#latency?.observe({ ...labels, role }, event.ms / 1000);
        this.#shadow?.inc({ ...labels, outcome: agreed === rows ? 'agreed' : 'disagreed' });
        return;
      }
      case 'shadow_error':
        window?.fail(role);
        this.#requests?.inc({ ...labels, role, outcome: 'error' });
        this.#shadow?.inc({ ...labels, outcome: 'failed' });
        return;
      case 'shadow_skipped':
        if (window !== undefined) window.shadow.skipped++;
        this.#shadow?.inc({ ...labels, outcome: 'skipped' });
        return;
    }
  }

  /** Feedback about a prediction of `version` (counted when it is one of the rollout's two). */
  feedback(model: string, version: number, correct: boolean): void {
    const role = this.roleOf(model, version);
    if (role !== undefined) this.#windows.get(model)?.feedback(role, correct);
  }
}
