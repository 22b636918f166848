/**
 * The data plane: one place that knows which versions serve, runs inference and reports
 * health, with no HTTP in it (as in KServe's model server). Protocol adapters decode
 * requests into tensors, call this, and encode what it returns.
 */
import { MscrError } from '../../connectors/errors.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type { VersionSelector } from '../../connectors/sc/index.ts';
import type { InferenceEngine, NamedTensor } from '../engine/index.ts';
import type { Handle, Manager, ModelServingStatus } from '../reload/manager.ts';
import type { ServedVersion } from './loader.ts';

import { routedPredict, type Routing, type TrafficRouter } from './routing.ts';

export { createEngineLoader, type ServedVersion } from './loader.ts';
export type { NamedTensor } from '../engine/index.ts';
export type { TrafficEvent, TrafficRoute, TrafficRouter } from './routing.ts';

export interface InferResult {
  model: string;
  version: number;
  manifest: ModelManifest;
  /** The first output (monitoring reads it). */
  output: Float32Array;
  shape: number[];
  /** Every output, named and ordered as the manifest's outputs. */
  outputs: NamedTensor[];
}

/**
 * What a protocol adapter hands to `infer`: the one input of a single-input model, or every
 * input by name (the manifest's names).
 */
export type PreparedInput = { input: Float32Array; shape: number[] } | { inputs: NamedTensor[] };

/**
 * Decoded tensors (any numeric typed array) -> what `infer` takes: the one input as it is,
 * or several by name. The engine speaks float32.
 */
export function preparedInputs(
  tensors: readonly { name: string; data: ArrayLike<number>; shape: number[] }[],
): PreparedInput {
  const float = (data: ArrayLike<number>) =>
    data instanceof Float32Array ? data : Float32Array.from(data);
  const [only, second] = tensors;
  if (only !== undefined && second === undefined)
    return { input: float(only.data), shape: only.shape };
  return { inputs: tensors.map((t) => ({ name: t.name, data: float(t.data), shape: t.shape })) };
}

/** Engine outputs -> the manifest's outputs: by name when the names match, else in order. */
function nameOutputs(manifest: ModelManifest, outputs: NamedTensor[]): NamedTensor[] {
  const specs = manifest.outputs;
  if (specs.every((spec) => outputs.some((o) => o.name === spec.name)))
    return specs.map((spec) => outputs.find((o) => o.name === spec.name) as NamedTensor);
  return outputs.map((o, i) => ({ ...o, name: specs[i]?.name ?? o.name }));
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

  /**
   * Throws `not_found` unless the model and the version or alias a selector names exist (in
   * the store, or loading, serving or failed here), whether or not it can serve now.
   */
  requireVersion(model: string, selector?: VersionSelector): void {
    this.#requireKnown(model);
    if (selector === undefined) return;
    const status = this.status(model);
    const version =
      'version' in selector ? selector.version : this.#manager.resolveAlias(model, selector.label);
    const known =
      status.storeVersions.includes(version) ||
      status.versions.some((v) => v.version === version && v.state !== 'END');
    if (!known) {
      throw new MscrError(
        'not_found',
        `model ${model} has no version ${version}; versions in the store: ${status.storeVersions.join(', ') || 'none'}`,
      );
    }
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
    prepare: (manifest: ModelManifest) => Promise<PreparedInput> | PreparedInput,
  ): Promise<InferResult> {
    const route = selector === undefined ? this.#router?.route(model) : undefined;
    const handle = this.#acquire(model, selector, route);
    try {
      const { manifest, key } = handle.servable;
      const prepared = await prepare(manifest);
      if ('input' in prepared && manifest.outputs.length <= 1) {
        // One input, one output: the engine's single-tensor path, with rollout routing.
        const { input, shape } = prepared;
        if (route === undefined) {
          const output = await this.#engine.predict(key, input, shape);
          return this.#answered(model, handle.version, manifest, output);
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
          return this.#answered(model, by.version, by.servable.manifest, output);
        } finally {
          answeredBy?.release();
        }
      }
      // Several inputs or outputs: every tensor by name. Rollout routing chose the version
      // (the handle); its shadow and fallback apply to single-tensor models only.
      const inputs =
        'inputs' in prepared
          ? prepared.inputs
          : [
              {
                name: manifest.inputs[0]?.name ?? 'input',
                data: prepared.input,
                shape: prepared.shape,
              },
            ];
      const outputs = nameOutputs(manifest, await this.#engine.predictTensors(key, inputs));
      const first = outputs[0];
      if (first === undefined) throw new MscrError('internal', `model ${model} returned no output`);
      const result = {
        model,
        version: handle.version,
        manifest,
        output: first.data,
        shape: first.shape,
        outputs,
      };
      this.#onInference?.(result);
      return result;
    } finally {
      handle.release();
    }
  }

  /** The result of a single-output model, reported to `onInference`. */
  #answered(
    model: string,
    version: number,
    manifest: ModelManifest,
    output: { output: Float32Array; shape: number[] },
  ): InferResult {
    const result = {
      model,
      version,
      manifest,
      output: output.output,
      shape: output.shape,
      outputs: [
        { name: manifest.outputs[0]?.name ?? 'output', data: output.output, shape: output.shape },
      ],
    };
    this.#onInference?.(result);
    return result;
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
