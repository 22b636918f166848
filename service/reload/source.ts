/**
 * Hot reload, part 1: the **source** (TF Serving's `Source`, here a store poller like its
 * `FileSystemStoragePathSource`).
 *
 * Every `pollIntervalMs` it lists a `ModelStore` and emits, per model, the *complete desired
 * state*: the ready versions (ascending) and the aliases. An emission is not a command; a
 * later one replaces an earlier one, so a lost or repeated emission does no harm.
 *
 * - Listing only: nothing is downloaded here (the manager's loader does that).
 * - Models: the configured names, or every model in the store when the list is empty. In the
 *   all-models mode a model that disappears from the store is emitted once more with no
 *   versions, so whoever listens can unload it.
 * - Store errors: reported to the error listeners, and *nothing* is emitted for the model
 *   concerned (for every model when the model listing itself fails). So an emission is always
 *   a real, complete listing, and an outage leaves the loaded versions serving.
 * - Aliases are listed before versions: a publish writes its version before moving an alias,
 *   and the store refuses to delete a version an alias points at, so in one emission every
 *   alias points at a listed version (except in an unlikely race with a concurrent alias move
 *   and deletion; the policies then treat the alias as pointing at nothing).
 * - A listing with no ready version of any model, right after one with some, is suspect (a
 *   store root that vanished or was recreated, a wrong mount, a bucket emptied by mistake):
 *   it is reported as an error and nothing is emitted, so every loaded version keeps
 *   serving, as TF Serving's availability-preserving policy would. A model removed while
 *   others stay is unloaded as before; emptying the whole store takes a restart.
 * - Polls never overlap: the next one is scheduled when the previous one has finished, and
 *   `pollOnce` calls are queued behind a running poll.
 */
import { MscrError, errorMessage } from '../../connectors/errors.ts';
import { validateModelName } from '../../connectors/ms/manifest.ts';
import type { ModelStore } from '../../connectors/store/index.ts';
import type { RolloutState } from '../../connectors/store/rollout.ts';

/** The desired state of one model: what the store holds right now. */
export interface DesiredState {
  readonly model: string;
  /** Ready versions, ascending. */
  readonly versions: readonly number[];
  /** Alias name -> version. */
  readonly aliases: Readonly<Record<string, number>>;
  /** The model's rollout (progressive delivery), when the source reads them and it has one. */
  readonly rollout?: RolloutState;
}

/** A listing that failed; `model` is absent when listing the models failed. */
export interface SourceError {
  readonly model?: string;
  readonly error: unknown;
  readonly message: string;
}

export type DesiredListener = (state: DesiredState) => void;
export type SourceErrorListener = (error: SourceError) => void;

/** What one poll did. */
export interface PollResult {
  emitted: DesiredState[];
  errors: SourceError[];
}

export interface Source {
  /** Subscribes to desired-state emissions; returns the unsubscribe function. */
  onDesired(listener: DesiredListener): () => void;
  /** Subscribes to listing errors (store outages); returns the unsubscribe function. */
  onError(listener: SourceErrorListener): () => void;
  /** Polls now (after a running poll, if any) and emits. Never rejects: errors go to `onError`. */
  pollOnce(): Promise<PollResult>;
  /** Polls at once, then every `pollIntervalMs` after the previous poll finished. */
  start(): void;
  /** Stops polling; resolves when a running poll has finished. */
  stop(): Promise<void>;
}

export interface StoreSourceOptions {
  store: ModelStore;
  /** Models to watch; empty or absent: every model in the store. */
  models?: readonly string[];
  /** Time between the end of one poll and the start of the next. Default 10 s. */
  pollIntervalMs?: number;
  /** Reads each model's rollout state with its aliases (absent: rollouts are not read). */
  rollouts?: { read(model: string): Promise<RolloutState | undefined> };
}

export const DEFAULT_POLL_INTERVAL_MS = 10_000;

/** A source that polls a model store. Throws `MscrError('config')` on bad options. */
export function createStoreSource(options: StoreSourceOptions): Source {
  const { store } = options;
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  if (!Number.isFinite(pollIntervalMs) || pollIntervalMs <= 0) {
    throw new MscrError(
      'config',
      `pollIntervalMs must be a positive number of milliseconds; got ${String(pollIntervalMs)}`,
    );
  }
  const configured = [...new Set(options.models ?? [])];
  for (const model of configured) {
    try {
      validateModelName(model);
    } catch (error) {
      throw new MscrError('config', `source models: ${errorMessage(error)}`);
    }
  }

  const desiredListeners = new Set<DesiredListener>();
  const errorListeners = new Set<SourceErrorListener>();
  /** Models emitted by the last polls of the all-models mode, to notice a model vanishing. */
  let known = new Set<string>();
  /** Ready versions over all models in the last emitted poll. */
  let lastTotal = 0;
  let running = false;
  /** Bumped by start and stop, so a poll started before a stop never schedules another. */
  let generation = 0;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  const report = (failure: SourceError, errors: SourceError[]): void => {
    errors.push(failure);
    for (const listener of [...errorListeners]) {
      try {
        listener(failure);
      } catch {
        // An error listener that throws must not stop the source.
      }
    }
  };

  const emit = (state: DesiredState, result: PollResult): void => {
    result.emitted.push(state);
    for (const listener of [...desiredListeners]) {
      try {
        listener(state);
      } catch (error) {
        report(
          {
            model: state.model,
            error,
            message: `a desired-state listener failed for model ${state.model}: ${errorMessage(error)}`,
          },
          result.errors,
        );
      }
    }
  };

  const listModel = async (model: string): Promise<DesiredState> => {
    // Aliases first, versions second: see the header.
    const aliases = await store.listAliases(model);
    // Read with the aliases: a rollout names versions, and a promotion moves an alias.
    const rollout = await options.rollouts?.read(model);
    const versions = await store.listVersions(model);
    return {
      model,
      versions: Object.freeze([...versions].sort((a, b) => a - b)),
      aliases: Object.freeze({ ...aliases }),
      ...(rollout !== undefined ? { rollout: Object.freeze(rollout) } : {}),
    };
  };

  const poll = async (): Promise<PollResult> => {
    const result: PollResult = { emitted: [], errors: [] };
    let models: string[];
    if (configured.length > 0) {
      models = configured;
    } else {
      try {
        models = await store.listModels();
      } catch (error) {
        report(
          {
            error,
            message: `cannot list the models of ${store.uri}: ${errorMessage(error)}`,
          },
          result.errors,
        );
        return result;
      }
    }
    const states = await Promise.all(
      models.map(async (model) => {
        try {
          return await listModel(model);
        } catch (error) {
          report(
            {
              model,
              error,
              message: `cannot list model ${model} in ${store.uri}: ${errorMessage(error)}`,
            },
            result.errors,
          );
          return undefined;
        }
      }),
    );
    const total = states.reduce((n, state) => n + (state?.versions.length ?? 0), 0);
    if (total === 0 && lastTotal > 0) {
      report(
        {
          error: new MscrError('unavailable', `${store.uri} lists no ready versions`),
          message: `${store.uri} lists no ready versions of any model right after listing ${lastTotal}: treated as suspect (a vanished, recreated or emptied store), the loaded versions keep serving`,
        },
        result.errors,
      );
      return result;
    }
    lastTotal = total;
    for (const state of states) if (state !== undefined) emit(state, result);
    if (configured.length === 0) {
      const now = new Set(models);
      for (const model of known) {
        if (!now.has(model)) emit({ model, versions: [], aliases: {} }, result);
      }
      known = now;
    }
    return result;
  };

  const pollOnce = (): Promise<PollResult> => {
    const run = chain.then(poll);
    chain = run.catch(() => undefined);
    return run;
  };

  const schedule = (started: number): void => {
    if (!running || started !== generation) return;
    timer = setTimeout(() => {
      timer = undefined;
      void pollOnce().finally(() => schedule(started));
    }, pollIntervalMs);
    // The poller alone does not keep a process alive (the server does).
    timer.unref();
  };

  return {
    onDesired(listener) {
      desiredListeners.add(listener);
      return () => void desiredListeners.delete(listener);
    },
    onError(listener) {
      errorListeners.add(listener);
      return () => void errorListeners.delete(listener);
    },
    pollOnce,
    start() {
      if (running) return;
      running = true;
      const started = ++generation;
      void pollOnce().finally(() => schedule(started));
    },
    async stop() {
      running = false;
      generation++;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await chain;
    },
  };
}
