/**
 * Hot reload, part 3: the **manager** (TF Serving's `AspiredVersionsManager` with its
 * `AvailabilityPreservingPolicy`). It reconciles the versions a policy wants ("aspired") with
 * the versions that are loaded, through a `Loader<T>`, and hands out short-lived handles.
 *
 * Per version: `LOADING -> AVAILABLE -> UNLOADING -> END`, or `LOADING -> FAILED` (retried
 * with backoff: `FAILED -> LOADING -> ...`), or `LOADING/FAILED -> END` when the version is no
 * longer wanted before it ever became available.
 *
 * Rules:
 * - **Load in the background.** A new aspired version loads while the current one serves; it
 *   becomes AVAILABLE only when `loader.load` resolves (the real loader verifies checksums
 *   and runs a warm-up inference inside `load`). Loads run at most `maxConcurrentLoads` at a
 *   time (default 1, as a 2-core machine wants), the highest version of an emission first.
 * - **Serving version**: the highest AVAILABLE version among the aspired ones (for the
 *   `alias` policy that is the aliased version, also when it is lower, as after a rollback).
 *   While no aspired version is AVAILABLE yet, the version serving so far keeps serving.
 *   `acquire(model)` reads it synchronously, so a switch is atomic: a request gets the old
 *   version or the new one, never an error in between.
 * - **Unload, availability first.** A version that is no longer aspired is unloaded once an
 *   aspired version is AVAILABLE, or at once when no version is aspired at all; while
 *   aspired versions are still loading or failing, the one serving is kept. Unloading waits
 *   until every handle on the version is released (state UNLOADING), then calls
 *   `loader.unload` (state END).
 * - **Failures.** A failed load leaves the version FAILED with the error and retries it after
 *   `min(maxMs, baseMs * 2^(failures - 1))`, indefinitely while it stays aspired (a corrupt
 *   version costs one read per `maxMs`). Emissions of the same desired state neither reset
 *   the backoff nor retry early; only a version that leaves the aspired set (END) and comes
 *   back starts afresh. A failure never touches the serving version.
 * - **Nothing aspired.** When the policy chooses no version (the store listing had no ready
 *   version: every version deleted, the alias deleted, ...), every version is unloaded after
 *   its handles drain and the model stays known but not ready (`acquire` -> `unavailable`).
 *   This is TF Serving's choice: it unloads what is no longer aspired. It is safe because a
 *   source emits only real listings: a store outage emits nothing (see `source.ts`), so the
 *   current versions keep serving through it.
 * - A version that stops being aspired while it loads has its load aborted (the `signal`);
 *   if the loader finishes anyway, its servable is unloaded at once.
 *
 * Wire a source to it with `source.onDesired((state) => manager.setDesired(state))`.
 */
import { MscrError, errorMessage } from '../../connectors/errors.ts';
import { isVersionNumber } from '../../connectors/ms/manifest.ts';
import { latest } from './policy.ts';
import type { VersionPolicy } from './policy.ts';
import type { DesiredState } from './source.ts';

/** Loads and unloads one version of a model. Cheap to build; all work happens in `load`. */
export interface Loader<T> {
  /** Loads a version; should stop early (reject) when `signal` aborts. */
  load(model: string, version: number, signal: AbortSignal): Promise<T>;
  unload(servable: T): Promise<void>;
}

export type ServableState = 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END' | 'FAILED';

/** A claim on one AVAILABLE version for the duration of a request. */
export interface Handle<T> {
  readonly model: string;
  readonly version: number;
  readonly servable: T;
  /** Gives the claim back; calling it again does nothing. */
  release(): void;
}

export interface ServableVersionStatus {
  version: number;
  state: ServableState;
  /** Whether the policy currently wants this version. */
  aspired: boolean;
  /** Load attempts since the version last became aspired. */
  attempts: number;
  /** The last load error (FAILED, or LOADING a retry), or an unload error (END). */
  error?: string;
  /** When the next load attempt is due (FAILED only). */
  nextRetryAt?: string;
  /** Handles held on the version. */
  handles: number;
  /** When the version entered its current state. */
  since: string;
  /** When the version last entered each state it has been in. */
  timestamps: Partial<Record<ServableState, string>>;
}

export interface ModelServingStatus {
  model: string;
  ready: boolean;
  /** The version `acquire(model)` returns. */
  serving?: number;
  /** The policy in text form, when it has one (`latest:1`). */
  policy?: string;
  /** The versions the policy chose from the last desired state. */
  aspired: number[];
  /** The ready versions of the last desired state. */
  storeVersions: number[];
  aliases: Record<string, number>;
  /** Ascending; ended versions are kept for a short history. */
  versions: ServableVersionStatus[];
}

export type ManagerEvent =
  | { type: 'loading'; model: string; version: number; attempt: number }
  | { type: 'available'; model: string; version: number; attempt: number; durationMs: number }
  | {
      type: 'failed';
      model: string;
      version: number;
      attempt: number;
      error: string;
      retryInMs: number;
    }
  /** A load (queued, running or waiting for a retry) no longer wanted. */
  | { type: 'cancelled'; model: string; version: number }
  /** The version `acquire(model)` returns changed (undefined: none). */
  | { type: 'serving'; model: string; version: number | undefined; previous: number | undefined }
  | { type: 'unloading'; model: string; version: number; handles: number }
  | { type: 'unloaded'; model: string; version: number; error?: string };

export type ManagerListener = (event: ManagerEvent) => void;

export interface BackoffOptions {
  /** Delay after the first failure. Default 1 s. */
  baseMs?: number;
  /** Longest delay. Default 5 min. */
  maxMs?: number;
}

export interface ManagerOptions<T> {
  loader: Loader<T>;
  /** Default policy for every model. Default `latest(1)`. */
  policy?: VersionPolicy;
  /** Per-model policies, overriding `policy`. */
  policies?: Readonly<Record<string, VersionPolicy>>;
  backoff?: BackoffOptions;
  /** Loads in flight at once, over all models. Default 1. */
  maxConcurrentLoads?: number;
  /** Ended versions kept in `status` per model. Default 10. */
  endedHistory?: number;
}

export interface Manager<T> {
  /** The aspired-versions callback: the complete desired state of one model. */
  setDesired(state: DesiredState): void;
  /**
   * A handle on the serving version, or on `version` when given (an alias is resolved first
   * with `resolveAlias`). Throws `not_found` for an unknown model or a version that is not
   * AVAILABLE, `unavailable` when the model has no AVAILABLE version.
   */
  acquire(model: string, version?: number): Handle<T>;
  /** The version an alias points at in the last desired state; `not_found` otherwise. */
  resolveAlias(model: string, alias: string): number;
  /** True when the model has an AVAILABLE version. */
  ready(model: string): boolean;
  /** `not_found` for an unknown model. */
  status(model: string): ModelServingStatus;
  /** Models with a desired state, sorted. */
  models(): string[];
  on(listener: ManagerListener): () => void;
  /** Stops loading, then unloads every version once its handles are released. */
  stop(): Promise<void>;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 1000, maxMs: 5 * 60_000 };

/** The delay before retrying after the `failures`-th failed load of a version. */
export function backoffDelay(failures: number, backoff: Required<BackoffOptions>): number {
  const exponent = Math.max(0, failures - 1);
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(exponent, 52));
}

interface VersionEntry<T> {
  readonly version: number;
  state: ServableState;
  servable?: T;
  handles: number;
  attempts: number;
  error?: string;
  since: number;
  timestamps: Partial<Record<ServableState, number>>;
  /** Set while the version waits in the load queue or loads. */
  loading?: 'queued' | 'running';
  abort?: AbortController;
  retryTimer?: NodeJS.Timeout;
  nextRetryAt?: number;
  unloadStarted: boolean;
}

interface ModelEntry<T> {
  readonly name: string;
  aspired: Set<number>;
  storeVersions: number[];
  aliases: Record<string, number>;
  versions: Map<number, VersionEntry<T>>;
  serving?: number;
}

function positive(value: number | undefined, fallback: number, what: string): number {
  const result = value ?? fallback;
  if (!Number.isFinite(result) || result <= 0) {
    throw new MscrError('config', `${what} must be a positive number; got ${String(value)}`);
  }
  return result;
}

const iso = (ms: number): string => new Date(ms).toISOString();

class AspiredVersionsManager<T> implements Manager<T> {
  private readonly loader: Loader<T>;
  private readonly defaultPolicy: VersionPolicy;
  private readonly policies: Readonly<Record<string, VersionPolicy>>;
  private readonly backoff: Required<BackoffOptions>;
  private readonly maxConcurrentLoads: number;
  private readonly endedHistory: number;
  private readonly entries = new Map<string, ModelEntry<T>>();
  private readonly listeners = new Set<ManagerListener>();
  private readonly queue: { model: ModelEntry<T>; entry: VersionEntry<T> }[] = [];
  private runningLoads = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(options: ManagerOptions<T>) {
    this.loader = options.loader;
    this.defaultPolicy = options.policy ?? latest(1);
    this.policies = { ...(options.policies ?? {}) };
    this.backoff = {
      baseMs: positive(options.backoff?.baseMs, DEFAULT_BACKOFF.baseMs, 'backoff.baseMs'),
      maxMs: positive(options.backoff?.maxMs, DEFAULT_BACKOFF.maxMs, 'backoff.maxMs'),
    };
    if (this.backoff.maxMs < this.backoff.baseMs) {
      throw new MscrError('config', 'backoff.maxMs must not be smaller than backoff.baseMs');
    }
    this.maxConcurrentLoads = Math.max(
      1,
      Math.floor(positive(options.maxConcurrentLoads, 1, 'maxConcurrentLoads')),
    );
    this.endedHistory = Math.max(0, Math.floor(options.endedHistory ?? 10));
  }

  // ---- the aspired-versions callback -------------------------------------------------------

  setDesired(state: DesiredState): void {
    if (this.stopped) return;
    let model = this.entries.get(state.model);
    if (model === undefined) {
      model = {
        name: state.model,
        aspired: new Set(),
        storeVersions: [],
        aliases: {},
        versions: new Map(),
      };
      this.entries.set(state.model, model);
    }
    model.storeVersions = [...state.versions];
    model.aliases = { ...state.aliases };
    model.aspired = new Set(this.policyOf(state.model)(state).filter(isVersionNumber));
    this.reconcile(model);
  }

  private policyOf(model: string): VersionPolicy {
    return Object.hasOwn(this.policies, model)
      ? (this.policies[model] ?? this.defaultPolicy)
      : this.defaultPolicy;
  }

  // ---- reconciliation ----------------------------------------------------------------------

  private reconcile(model: ModelEntry<T>): void {
    const aspired = this.stopped ? new Set<number>() : model.aspired;

    // 1. Aspired versions that are not loaded: load them, the highest first.
    for (const version of [...aspired].sort((a, b) => b - a)) {
      const entry = model.versions.get(version);
      if (entry === undefined || entry.state === 'END') this.enqueueLoad(model, version);
      // LOADING, AVAILABLE and FAILED (waiting for its retry) are left alone; an UNLOADING
      // version finishes unloading and is loaded again by the reconcile that follows its END.
    }

    // 2. Versions no longer aspired that never became available: cancel them.
    for (const entry of model.versions.values()) {
      if (aspired.has(entry.version)) continue;
      if (entry.state === 'LOADING' && entry.loading === 'queued') {
        entry.loading = undefined;
        this.setState(entry, 'END');
        this.emit({ type: 'cancelled', model: model.name, version: entry.version });
      } else if (entry.state === 'LOADING' && entry.loading === 'running') {
        entry.abort?.abort(new MscrError('unavailable', 'the version is no longer wanted'));
      } else if (entry.state === 'FAILED') {
        clearTimeout(entry.retryTimer);
        entry.retryTimer = undefined;
        entry.nextRetryAt = undefined;
        this.setState(entry, 'END');
        this.emit({ type: 'cancelled', model: model.name, version: entry.version });
      }
    }

    // 3. Available versions no longer aspired: unload them, preserving availability.
    const available = [...model.versions.values()].filter((e) => e.state === 'AVAILABLE');
    const aspiredAvailable = available.filter((e) => aspired.has(e.version));
    const unaspired = available.filter((e) => !aspired.has(e.version));
    let unload: VersionEntry<T>[] = [];
    if (aspired.size === 0 || aspiredAvailable.length > 0) {
      unload = unaspired;
    } else if (unaspired.length > 0) {
      // Aspired versions are loading or failing: keep the one serving (or the newest).
      const keep =
        unaspired.find((e) => e.version === model.serving) ??
        unaspired.reduce((a, b) => (b.version > a.version ? b : a));
      unload = unaspired.filter((e) => e !== keep);
    }

    // 4. The serving version, switched in this one synchronous step, before the old one is
    //    marked UNLOADING (nothing runs in between: requests never see neither).
    const remaining = available.filter((e) => !unload.includes(e)).map((e) => e.version);
    this.updateServing(model, remaining, aspired);
    for (const entry of unload) this.beginUnload(model, entry);
    this.pruneEnded(model);
    this.pump();
  }

  /** Chooses the serving version among `available` (the versions that stay AVAILABLE). */
  private updateServing(model: ModelEntry<T>, available: number[], aspired: Set<number>): void {
    const aspiredAvailable = available.filter((v) => aspired.has(v));
    let serving: number | undefined;
    if (aspiredAvailable.length > 0) serving = Math.max(...aspiredAvailable);
    else if (model.serving !== undefined && available.includes(model.serving))
      serving = model.serving;
    else if (available.length > 0) serving = Math.max(...available);
    if (serving !== model.serving) {
      const previous = model.serving;
      model.serving = serving;
      this.emit({ type: 'serving', model: model.name, version: serving, previous });
    }
  }

  private pruneEnded(model: ModelEntry<T>): void {
    const ended = [...model.versions.values()]
      .filter((e) => e.state === 'END')
      .sort((a, b) => b.since - a.since);
    for (const entry of ended.slice(this.endedHistory)) model.versions.delete(entry.version);
  }

  // ---- loading -----------------------------------------------------------------------------

  private enqueueLoad(model: ModelEntry<T>, version: number): void {
    const entry: VersionEntry<T> = {
      version,
      state: 'LOADING',
      handles: 0,
      attempts: 0,
      since: Date.now(),
      timestamps: {},
      unloadStarted: false,
    };
    model.versions.set(version, entry);
    this.setState(entry, 'LOADING');
    entry.loading = 'queued';
    this.queue.push({ model, entry });
  }

  /** Starts queued loads while there is room. */
  private pump(): void {
    while (this.runningLoads < this.maxConcurrentLoads && this.queue.length > 0) {
      const next = this.queue.shift();
      if (next === undefined || next.entry.loading !== 'queued') continue;
      void this.runLoad(next.model, next.entry).catch((error: unknown) => {
        // Only a bug gets here; keep the manager going and say so.
        console.error(`mscr: hot reload: unexpected error: ${errorMessage(error)}`);
      });
    }
  }

  private async runLoad(model: ModelEntry<T>, entry: VersionEntry<T>): Promise<void> {
    this.runningLoads++;
    entry.loading = 'running';
    entry.attempts++;
    const abort = new AbortController();
    entry.abort = abort;
    const attempt = entry.attempts;
    const started = Date.now();
    this.emit({ type: 'loading', model: model.name, version: entry.version, attempt });

    let outcome: { ok: true; servable: T } | { ok: false; error: unknown };
    try {
      outcome = {
        ok: true,
        servable: await this.loader.load(model.name, entry.version, abort.signal),
      };
    } catch (error) {
      outcome = { ok: false, error };
    }
    this.runningLoads--;
    entry.loading = undefined;
    entry.abort = undefined;

    // Wanted again after an abort (aspired, dropped, aspired again): a servable is still good.
    const wanted = !this.stopped && model.aspired.has(entry.version);
    if (!outcome.ok) {
      entry.error = errorMessage(outcome.error);
      if (!wanted || abort.signal.aborted) {
        // Not a real failure: no backoff. If the version is wanted again, reconcile reloads it.
        this.setState(entry, 'END');
        this.emit({ type: 'cancelled', model: model.name, version: entry.version });
      } else {
        const retryInMs = backoffDelay(attempt, this.backoff);
        this.setState(entry, 'FAILED');
        this.scheduleRetry(model, entry, retryInMs);
        this.emit({
          type: 'failed',
          model: model.name,
          version: entry.version,
          attempt,
          error: entry.error,
          retryInMs,
        });
      }
    } else if (!wanted) {
      // Loaded, but no longer wanted: unload the result at once.
      entry.servable = outcome.servable;
      this.setState(entry, 'AVAILABLE');
      this.beginUnload(model, entry);
    } else {
      entry.servable = outcome.servable;
      entry.error = undefined;
      this.setState(entry, 'AVAILABLE');
      this.emit({
        type: 'available',
        model: model.name,
        version: entry.version,
        attempt,
        durationMs: Date.now() - started,
      });
    }
    this.reconcile(model);
  }

  private scheduleRetry(model: ModelEntry<T>, entry: VersionEntry<T>, delayMs: number): void {
    entry.nextRetryAt = Date.now() + delayMs;
    entry.retryTimer = setTimeout(() => {
      entry.retryTimer = undefined;
      entry.nextRetryAt = undefined;
      if (this.stopped || entry.state !== 'FAILED' || !model.aspired.has(entry.version)) return;
      this.setState(entry, 'LOADING');
      entry.loading = 'queued';
      this.queue.push({ model, entry });
      this.pump();
    }, delayMs);
    // A pending retry alone does not keep the process alive.
    entry.retryTimer.unref();
  }

  // ---- unloading ---------------------------------------------------------------------------

  private beginUnload(model: ModelEntry<T>, entry: VersionEntry<T>): void {
    if (entry.state !== 'AVAILABLE') return;
    this.setState(entry, 'UNLOADING');
    this.emit({
      type: 'unloading',
      model: model.name,
      version: entry.version,
      handles: entry.handles,
    });
    if (entry.handles === 0) this.finishUnload(model, entry);
  }

  private finishUnload(model: ModelEntry<T>, entry: VersionEntry<T>): void {
    if (entry.unloadStarted) return;
    entry.unloadStarted = true;
    const servable = entry.servable as T;
    void (async () => {
      let failure: string | undefined;
      try {
        await this.loader.unload(servable);
      } catch (error) {
        failure = errorMessage(error);
      }
      entry.servable = undefined;
      if (failure !== undefined) entry.error = `unload failed: ${failure}`;
      this.setState(entry, 'END');
      this.emit(
        failure === undefined
          ? { type: 'unloaded', model: model.name, version: entry.version }
          : { type: 'unloaded', model: model.name, version: entry.version, error: failure },
      );
      // The version may be aspired again by now: reconcile loads it afresh.
      this.reconcile(model);
    })();
  }

  // ---- requests ----------------------------------------------------------------------------

  acquire(model: string, version?: number): Handle<T> {
    const entry = this.modelOrThrow(model);
    if (version === undefined) {
      const serving = entry.serving === undefined ? undefined : entry.versions.get(entry.serving);
      if (serving?.state !== 'AVAILABLE') {
        throw new MscrError(
          'unavailable',
          `model ${model} has no available version (${this.whyUnavailable(entry)})`,
        );
      }
      return this.handleOn(entry, serving);
    }
    if (!isVersionNumber(version)) {
      throw new MscrError(
        'bad_request',
        `invalid version ${JSON.stringify(version)}: versions are positive integers`,
      );
    }
    const wanted = entry.versions.get(version);
    if (wanted?.state !== 'AVAILABLE') {
      const state = wanted === undefined ? 'not loaded' : wanted.state;
      const available = this.availableVersions(entry);
      throw new MscrError(
        'not_found',
        `version ${version} of model ${model} is not available (${state}); available versions: ${
          available.length > 0 ? available.join(', ') : 'none'
        }`,
      );
    }
    return this.handleOn(entry, wanted);
  }

  private handleOn(model: ModelEntry<T>, entry: VersionEntry<T>): Handle<T> {
    entry.handles++;
    let released = false;
    return {
      model: model.name,
      version: entry.version,
      servable: entry.servable as T,
      release: () => {
        if (released) return;
        released = true;
        entry.handles--;
        if (entry.state === 'UNLOADING' && entry.handles === 0) this.finishUnload(model, entry);
      },
    };
  }

  private modelOrThrow(model: string): ModelEntry<T> {
    const entry = this.entries.get(model);
    if (entry === undefined) {
      // Neither the whole list of models (GET /v1/models gives it to whoever should have it)
      // nor more than the start of a long name goes back to an anonymous caller.
      const shown = model.length > 64 ? `${model.slice(0, 64)}...` : model;
      throw new MscrError(
        'not_found',
        `unknown model ${JSON.stringify(shown)}; GET /v1/models lists the models served`,
      );
    }
    return entry;
  }

  private availableVersions(model: ModelEntry<T>): number[] {
    return [...model.versions.values()]
      .filter((e) => e.state === 'AVAILABLE')
      .map((e) => e.version)
      .sort((a, b) => a - b);
  }

  /** Why a model has nothing to serve, for error messages: `version 3 LOADING`, ... */
  private whyUnavailable(model: ModelEntry<T>): string {
    if (this.stopped) return 'the manager is stopping';
    const states = [...model.versions.values()]
      .filter((e) => e.state !== 'END')
      .sort((a, b) => b.version - a.version)
      .map((e) =>
        e.state === 'FAILED' || (e.state === 'LOADING' && e.error !== undefined)
          ? `version ${e.version} ${e.state} after ${e.attempts} attempt(s): ${e.error ?? ''}`
          : `version ${e.version} ${e.state}`,
      );
    if (states.length > 0) return states.join(', ');
    if (model.storeVersions.length === 0) return 'no ready version in the store';
    const policy = this.policyOf(model.name).description ?? 'the version policy';
    return `${policy} chooses none of the ready versions ${model.storeVersions.join(', ')}`;
  }

  resolveAlias(model: string, alias: string): number {
    const entry = this.modelOrThrow(model);
    const version = Object.hasOwn(entry.aliases, alias) ? entry.aliases[alias] : undefined;
    if (version === undefined) {
      const names = Object.keys(entry.aliases).sort();
      throw new MscrError(
        'not_found',
        `model ${model} has no alias ${JSON.stringify(alias)}; aliases: ${names.length > 0 ? names.join(', ') : 'none'}`,
      );
    }
    return version;
  }

  // ---- status and events -------------------------------------------------------------------

  ready(model: string): boolean {
    const entry = this.entries.get(model);
    return entry !== undefined && this.availableVersions(entry).length > 0;
  }

  status(model: string): ModelServingStatus {
    const entry = this.modelOrThrow(model);
    const policy = this.policyOf(model).description;
    const result: ModelServingStatus = {
      model,
      ready: this.ready(model),
      aspired: [...entry.aspired].sort((a, b) => a - b),
      storeVersions: [...entry.storeVersions],
      aliases: { ...entry.aliases },
      versions: [...entry.versions.values()]
        .sort((a, b) => a.version - b.version)
        .map((e) => this.versionStatus(entry, e)),
    };
    if (entry.serving !== undefined) result.serving = entry.serving;
    if (policy !== undefined) result.policy = policy;
    return result;
  }

  private versionStatus(model: ModelEntry<T>, entry: VersionEntry<T>): ServableVersionStatus {
    const timestamps: Partial<Record<ServableState, string>> = {};
    for (const [state, at] of Object.entries(entry.timestamps)) {
      timestamps[state as ServableState] = iso(at);
    }
    const status: ServableVersionStatus = {
      version: entry.version,
      state: entry.state,
      aspired: model.aspired.has(entry.version),
      attempts: entry.attempts,
      handles: entry.handles,
      since: iso(entry.since),
      timestamps,
    };
    if (entry.error !== undefined) status.error = entry.error;
    if (entry.nextRetryAt !== undefined) status.nextRetryAt = iso(entry.nextRetryAt);
    return status;
  }

  models(): string[] {
    return [...this.entries.keys()].sort();
  }

  on(listener: ManagerListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  private emit(event: ManagerEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A listener (metrics, logs) that throws must not break reconciliation.
      }
    }
  }

  private setState(entry: VersionEntry<T>, state: ServableState): void {
    const now = Date.now();
    entry.state = state;
    entry.since = now;
    entry.timestamps[state] = now;
    if (this.idleWaiters.length > 0 && this.settled()) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  // ---- shutdown ----------------------------------------------------------------------------

  /** Every version of every model has ended (nothing loading, loaded or unloading). */
  private settled(): boolean {
    for (const model of this.entries.values()) {
      for (const entry of model.versions.values()) if (entry.state !== 'END') return false;
    }
    return this.runningLoads === 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const model of this.entries.values()) this.reconcile(model);
    if (this.settled()) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}

/** A manager reconciling desired states through `options.loader`. */
export function createManager<T>(options: ManagerOptions<T>): Manager<T> {
  return new AspiredVersionsManager(options);
}
