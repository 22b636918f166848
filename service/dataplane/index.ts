/**
 * The data plane: one place that knows which versions serve, runs inference and reports
 * health, with no HTTP in it (as in KServe's model server). Protocol adapters decode
 * requests into tensors, call this, and encode what it returns.
 */
import { MscrError } from '../../connectors/errors.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type { VersionSelector } from '../../connectors/sc/index.ts';
import type { InferenceEngine } from '../engine/index.ts';
import type { Handle, Manager, ModelServingStatus } from '../reload/manager.ts';
import type { ServedVersion } from './loader.ts';

import { routedPredict, type Routing, type TrafficRouter } from './routing.ts';

export { createEngineLoader, type ServedVersion } from './loader.ts';
export type { TrafficEvent, TrafficRoute, TrafficRouter } from './routing.ts';

export interface InferResult {
  model: string;
  version: number;
  manifest: ModelManifest;
  output: Float32Array;
  shape: number[];
}

export interface DataPlaneOptions {
  manager: Manager<ServedVersion>;
  engine: InferenceEngine;
  /** Models that must be available for readiness; empty = every model the store has. */
  models: readonly string[];
  /** Called after every successful inference (metrics: predicted classes, confidence). */
  onInference?: (result: InferResult) => void;
  /** Rollouts: which version answers unpinned requests, and shadow copies. */
  router?: TrafficRouter;
}

export class DataPlane {
  readonly #manager: Manager<ServedVersion>;
  readonly #engine: InferenceEngine;
  readonly #models: readonly string[];
  readonly #onInference: ((result: InferResult) => void) | undefined;
  readonly #router: TrafficRouter | undefined;
  readonly #routing: Routing;
  #draining = false;

  constructor(options: DataPlaneOptions) {
    this.#manager = options.manager;
    this.#engine = options.engine;
    this.#models = options.models;
    this.#onInference = options.onInference;
    this.#router = options.router;
    this.#routing = {
      manager: this.#manager,
      engine: this.#engine,
      router: this.#router,
      shadowsInFlight: 0,
    };
  }

  /** The process is up and answering (stays true through reloads). */
  live(): boolean {
    return true;
  }

  /**
   * Every configured model (`--model`), or else every model the store still has, has an
   * available version, and we are not draining. A model removed from the store no longer
   * counts: otherwise one removal would take every replica out of the Service for good
   * while liveness stays true, and Kubernetes would never restart them.
   */
  ready(): boolean {
    if (this.#draining) return false;
    const models =
      this.#models.length > 0
        ? this.#models
        : this.#manager.models().filter((m) => this.#manager.status(m).storeVersions.length > 0);
    return models.length > 0 && models.every((m) => this.#manager.ready(m));
  }

  /** Readiness goes false first on SIGTERM, so load balancers stop sending while we drain. */
  startDraining(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Whether `model` is configured or has a desired state (without throwing). */
  knows(model: string): boolean {
    return this.#models.includes(model) || this.#manager.models().includes(model);
  }

  listModels(): string[] {
    const known = new Set([...this.#models, ...this.#manager.models()]);
    return [...known].sort();
  }

  status(model: string): ModelServingStatus {
    this.#requireKnown(model);
    return this.#manager.status(model);
  }

  modelReady(model: string, selector?: VersionSelector): boolean {
    this.#requireKnown(model);
    try {
      this.#withVersion(model, selector, () => undefined);
      return true;
    } catch (error) {
      if (
        error instanceof MscrError &&
        (error.code === 'unavailable' || error.code === 'not_found')
      )
        return false;
      throw error;
    }
  }

  /** The manifest of the version a selector picks (default: the serving version). */
  manifest(
    model: string,
    selector?: VersionSelector,
  ): { version: number; manifest: ModelManifest } {
    return this.#withVersion(model, selector, (served, version) => ({
      version,
      manifest: served.manifest,
    }));
  }

  /**
   * Runs one input (`shape = [rows, ...]`) through the chosen version. The request holds a
   * handle on that version until the output is back, so an unload waits for it.
   */
  async infer(
    model: string,
    selector: VersionSelector | undefined,
    prepare: (
      manifest: ModelManifest,
    ) =>
      Promise<{ input: Float32Array; shape: number[] }> | { input: Float32Array; shape: number[] },
  ): Promise<InferResult> {
    const route = selector === undefined ? this.#router?.route(model) : undefined;
    const handle = this.#acquire(model, selector, route);
    try {
      const { input, shape } = await prepare(handle.servable.manifest);
      if (route === undefined) {
        const output = await this.#engine.predict(handle.servable.key, input, shape);
        const result = {
          model,
          version: handle.version,
          manifest: handle.servable.manifest,
          ...output,
        };
        this.#onInference?.(result);
        return result;
      }
      // Routed: a failing candidate's request may be answered by stable (`answeredBy`).
      const { answeredBy, ...output } = await routedPredict(this.#routing, {
        model,
        handle,
        input,
        shape,
        route,
      });
      try {
        const by = answeredBy ?? handle;
        const result = { model, version: by.version, manifest: by.servable.manifest, ...output };
        this.#onInference?.(result);
        return result;
      } finally {
        answeredBy?.release();
      }
    } finally {
      handle.release();
    }
  }

  #requireKnown(model: string): void {
    if (!this.knows(model)) {
      // Neither the list of models nor a long name goes back to an anonymous caller.
      const shown = model.length > 64 ? `${model.slice(0, 64)}...` : model;
      throw new MscrError(
        'not_found',
        `unknown model ${JSON.stringify(shown)}; GET /v1/models lists the models served`,
      );
    }
  }

  #acquire(
    model: string,
    selector: VersionSelector | undefined,
    route = selector === undefined ? this.#router?.route(model) : undefined,
  ): Handle<ServedVersion> {
    this.#requireKnown(model);
    if (selector === undefined) {
      // Under a rollout the router's versions come first; one not loaded (yet) is skipped.
      for (const version of route?.versions ?? []) {
        try {
          return this.#manager.acquire(model, version);
        } catch (error) {
          if (!(error instanceof MscrError)) throw error;
        }
      }
      return this.#manager.acquire(model);
    }
    const version =
      'version' in selector ? selector.version : this.#manager.resolveAlias(model, selector.label);
    return this.#manager.acquire(model, version);
  }

  #withVersion<T>(
    model: string,
    selector: VersionSelector | undefined,
    use: (served: ServedVersion, version: number) => T,
  ): T {
    // Metadata under a rollout describes stable, not a random side of the split.
    const preferred = selector === undefined ? this.#router?.preferred(model) : undefined;
    const handle = this.#acquire(
      model,
      selector,
      preferred === undefined ? undefined : { versions: [preferred] },
    );
    try {
      return use(handle.servable, handle.version);
    } finally {
      handle.release();
    }
  }
}
