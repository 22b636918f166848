/**
 * The data plane's routing under a rollout (`service/rollout` decides, this runs it): a routed
 * inference is timed and reported to the router, and a shadow copy runs on the candidate
 * after the caller's answer is computed, never awaited by the caller and never failing it.
 */
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type { InferenceEngine } from '../engine/index.ts';
import type { Handle, Manager } from '../reload/manager.ts';
import type { ServedVersion } from './loader.ts';

/** Where an unpinned request goes under a rollout: versions to try in order, and a shadow. */
export interface TrafficRoute {
  versions: number[];
  /** A version that answers a copy of the request after the caller has its answer. */
  shadow?: number;
}

/** What happened to a routed request (the candidate's evidence), see `service/rollout`. */
export type TrafficEvent =
  | {
      kind: 'answer';
      model: string;
      version: number;
      ms: number;
      output: Float32Array;
      shape: number[];
    }
  | { kind: 'error'; model: string; version: number; error: unknown }
  | {
      kind: 'shadow';
      model: string;
      version: number;
      ms: number;
      output: Float32Array;
      shape: number[];
      primary: { output: Float32Array; shape: number[] };
    }
  | { kind: 'shadow_error'; model: string; version: number; error: unknown }
  | { kind: 'shadow_skipped'; model: string; version: number; why: string };

/** Progressive delivery's hook into the data plane (canary split, shadow copies, evidence). */
export interface TrafficRouter {
  route(model: string): TrafficRoute | undefined;
  /** The version that speaks for the model without a caller (metadata): stable under a rollout. */
  preferred(model: string): number | undefined;
  observe(event: TrafficEvent): void;
}

/** Shadow copies in flight at once; more are skipped, so shadows never queue up behind traffic. */
const MAX_SHADOWS_IN_FLIGHT = 16;

/** What routing needs of the data plane. */
export interface Routing {
  manager: Manager<ServedVersion>;
  engine: InferenceEngine;
  router: TrafficRouter | undefined;
  shadowsInFlight: number;
}

export interface RoutedCall {
  model: string;
  handle: Handle<ServedVersion>;
  input: Float32Array;
  shape: number[];
  route: TrafficRoute;
}
/**
 * A routed inference: timed and reported to the router, then shadowed if asked. When the
 * first version fails (a broken candidate) and the route names another that takes the same
 * input, that one answers instead (`answeredBy`, a handle the caller releases): the failure
 * counts against the candidate, the caller gets stable's answer.
 */
export async function routedPredict(
  routing: Routing,
  { model, handle, input, shape, route }: RoutedCall,
): Promise<{ output: Float32Array; shape: number[]; answeredBy?: Handle<ServedVersion> }> {
  const router = routing.router as TrafficRouter;
  const { version } = handle;
  // The engine may hand the input to a worker (transferred, then empty here): a shadow or
  // a retry on another version needs its own copy.
  const shadowing = route.shadow !== undefined && route.shadow !== version;
  const fallback = route.versions.find((v) => v !== version);
  const copy = shadowing || fallback !== undefined ? input.slice() : undefined;
  const started = performance.now();
  let output: { output: Float32Array; shape: number[] };
  try {
    output = await routing.engine.predict(handle.servable.key, input, shape);
  } catch (error) {
    router.observe({ kind: 'error', model, version, error });
    const other =
      fallback === undefined || copy === undefined
        ? undefined
        : acquireSameInput(routing, model, fallback, handle);
    if (other === undefined) throw error;
    try {
      const retried = await predictObserved(routing, model, other, copy as Float32Array, shape);
      return { ...retried, answeredBy: other };
    } catch (retryError) {
      other.release();
      throw retryError;
    }
  }
  router.observe({ kind: 'answer', model, version, ms: performance.now() - started, ...output });
  if (shadowing && copy !== undefined && route.shadow !== undefined) {
    shadow(routing, model, route.shadow, handle.servable.manifest, copy, shape, output);
  }
  return output;
}

/** A handle on `version` when it is available and takes the same input as `like`. */
function acquireSameInput(
  routing: Routing,
  model: string,
  version: number,
  like: Handle<ServedVersion>,
): Handle<ServedVersion> | undefined {
  let other: Handle<ServedVersion>;
  try {
    other = routing.manager.acquire(model, version);
  } catch {
    return undefined;
  }
  if (
    JSON.stringify(other.servable.manifest.inputs) === JSON.stringify(like.servable.manifest.inputs)
  )
    return other;
  other.release();
  return undefined;
}

async function predictObserved(
  routing: Routing,
  model: string,
  handle: Handle<ServedVersion>,
  input: Float32Array,
  shape: number[],
): Promise<{ output: Float32Array; shape: number[] }> {
  const router = routing.router as TrafficRouter;
  const started = performance.now();
  try {
    const output = await routing.engine.predict(handle.servable.key, input, shape);
    router.observe({
      kind: 'answer',
      model,
      version: handle.version,
      ms: performance.now() - started,
      ...output,
    });
    return output;
  } catch (error) {
    router.observe({ kind: 'error', model, version: handle.version, error });
    throw error;
  }
}

/** Runs a copy on the shadow version; never awaited by the caller, never throws. */
function shadow(
  routing: Routing,
  model: string,
  version: number,
  primaryManifest: ModelManifest,
  input: Float32Array,
  shape: number[],
  primary: { output: Float32Array; shape: number[] },
): void {
  const router = routing.router as TrafficRouter;
  const skip = (why: string) => router.observe({ kind: 'shadow_skipped', model, version, why });
  if (routing.shadowsInFlight >= MAX_SHADOWS_IN_FLIGHT) return skip('too many shadows in flight');
  let handle: Handle<ServedVersion>;
  try {
    handle = routing.manager.acquire(model, version);
  } catch {
    return skip('the shadow version is not available');
  }
  // The stable version's prepared input fits the candidate only if both take the same input.
  const same =
    JSON.stringify(handle.servable.manifest.inputs) === JSON.stringify(primaryManifest.inputs);
  if (!same) {
    handle.release();
    return skip('the shadow version takes another input');
  }
  routing.shadowsInFlight++;
  const started = performance.now();
  routing.engine
    .predict(handle.servable.key, input, shape)
    .then(
      (output) =>
        router.observe({
          kind: 'shadow',
          model,
          version,
          ms: performance.now() - started,
          ...output,
          primary,
        }),
      (error: unknown) => router.observe({ kind: 'shadow_error', model, version, error }),
    )
    .catch(() => undefined)
    .finally(() => {
      routing.shadowsInFlight--;
      handle.release();
    });
}
