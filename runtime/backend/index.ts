/**
 * TF.js backend selection, chosen once at start-up (and re-chosen only when asked for another
 * preference): a small strategy table, one entry per backend kind.
 *
 *   - `tensorflow`: `@tensorflow/tfjs-node` (native libtensorflow, multi-threaded). It is an
 *     optionalDependency whose install downloads a native library; when that is blocked the
 *     package is simply absent, so `auto` probes it with a dynamic import and fails soft.
 *   - `wasm`: `@tensorflow/tfjs-backend-wasm` (XNNPACK). Ships without `Conv2DBackpropFilter`,
 *     so the composite kernel of `conv2d-backprop-filter.ts` is registered before it is used.
 *   - `cpu`: the plain-JS backend; only when asked for explicitly (slow; for comparisons).
 *
 * Threads and SIMD of the wasm backend in Node (tfjs-backend-wasm 4.22, Node 20), investigated:
 *   - SIMD: on. `WASM_HAS_SIMD_SUPPORT` validates a SIMD module and is true in Node 20, so
 *     `tfjs-backend-wasm-simd.wasm` is loaded.
 *   - Threads: no, always one. The flag `WASM_HAS_MULTITHREAD_SUPPORT` is hard-wired to false
 *     when `IS_NODE` (tfjs issue #3830), so `tfjs-backend-wasm-threaded-simd.wasm` is never picked
 *     in Node, and `setThreadsCount(n)` has no effect: `getThreadsCount()` reports 1. Forcing the
 *     flag to true does not help either: the threaded build starts its pthread workers from a
 *     `blob:` URL, which Node's `worker_threads` rejects (ERR_WORKER_PATH), so backend init fails.
 *     On a multi-core machine the wasm backend therefore uses one core; only tfjs-node uses more.
 */
import * as tf from '@tensorflow/tfjs';
import { MscrError, errorMessage } from '../../connectors/errors.ts';
import { registerWasmConv2DBackpropFilter } from './conv2d-backprop-filter.ts';

export type BackendKind = 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | BackendKind;

export interface BackendInfo {
  /** The TF.js backend name (`tf.getBackend()`). */
  name: string;
  kind: BackendKind;
  /** Threads the backend computes with, where known. */
  threads?: number;
  /** Whether the backend runs WebAssembly SIMD code (wasm only). */
  simd?: boolean;
  /** Why this backend was chosen (and why better ones were not). */
  reason: string;
}

/** The environment variable read when the preference is 'auto'. */
export const BACKEND_ENV_VAR = 'MSCR_BACKEND';

const preferences: readonly BackendPreference[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export function isBackendPreference(value: unknown): value is BackendPreference {
  return typeof value === 'string' && (preferences as readonly string[]).includes(value);
}

/** Parses a preference from configuration (CLI flag, env var); throws MscrError('config'). */
export function parseBackendPreference(value: string, source = 'backend'): BackendPreference {
  const normalised = value.trim().toLowerCase();
  if (!isBackendPreference(normalised)) {
    throw new MscrError(
      'config',
      `${source} must be one of ${preferences.join(', ')}; got '${value}'`,
    );
  }
  return normalised;
}

/** One way of bringing up a backend. `load` throws when it cannot. */
interface BackendStrategy {
  kind: BackendKind;
  load(why: string): Promise<BackendInfo>;
}

// A string variable, so tsc neither resolves nor needs types for the optional native package.
const TFJS_NODE = '@tensorflow/tfjs-node';
let tfjsNodeProbe: Promise<{ ok: true } | { ok: false; reason: string }> | undefined;

/** Imports tfjs-node once per process; remembers why it failed. */
function probeTfjsNode(): Promise<{ ok: true } | { ok: false; reason: string }> {
  tfjsNodeProbe ??= import(TFJS_NODE).then(
    () => ({ ok: true as const }),
    (error: unknown) => {
      const code =
        typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
      const reason =
        code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND'
          ? `${TFJS_NODE} is not installed`
          : `${TFJS_NODE} failed to load: ${errorMessage(error)}`;
      return { ok: false as const, reason };
    },
  );
  return tfjsNodeProbe;
}

async function activate(name: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (error) {
    throw new MscrError(
      'unavailable',
      `TF.js backend '${name}' failed to initialise: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  if (!ok) throw new MscrError('unavailable', `TF.js backend '${name}' failed to initialise`);
  await tf.ready();
}

/**
 * The Emscripten glue of tfjs-backend-wasm (run when the backend initialises) adds process
 * handlers `uncaughtException: ex => { if (!(ex instanceof ExitStatus)) throw ex }` and
 * `unhandledRejection: reason => { throw reason }`, and its clean-up never removes them (its
 * filter is inverted). Re-throwing inside a handler kills the process with exit code 7 and a
 * log line showing the whole minified glue, even when the application installed its own
 * handlers to log and carry on. tfjs never calls Emscripten's exit(), so they serve nothing
 * here: remove them, restoring Node's default (crash when no other handler exists).
 */
function removeEmscriptenProcessHandlers(): void {
  const signatures: [string, RegExp][] = [
    ['uncaughtException', /instanceof ExitStatus/],
    ['unhandledRejection', /^function\s*\(reason\)\s*\{\s*throw reason;?\s*\}$/],
  ];
  for (const [event, signature] of signatures) {
    for (const listener of process.listeners(event as 'uncaughtException')) {
      if (signature.test(Function.prototype.toString.call(listener))) {
        process.removeListener(event, listener);
      }
    }
  }
}

const strategies: Record<BackendKind, BackendStrategy> = {
  tensorflow: {
    kind: 'tensorflow',
    async load(why) {
      const probe = await probeTfjsNode();
      if (!probe.ok) {
        throw new MscrError(
          'config',
          `backend 'tensorflow' needs ${TFJS_NODE}, but ${probe.reason}. ` +
            `Install it with \`npm install ${TFJS_NODE}@${tf.version_core}\`; its install script downloads ` +
            `libtensorflow from storage.googleapis.com (set TFJS_NODE_CDN_STORAGE to use a mirror). ` +
            `Or choose backend 'wasm' (or 'auto').`,
        );
      }
      await activate('tensorflow');
      return { name: tf.getBackend(), kind: 'tensorflow', reason: why };
    },
  },
  wasm: {
    kind: 'wasm',
    async load(why) {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      registerWasmConv2DBackpropFilter();
      await activate('wasm');
      removeEmscriptenProcessHandlers();
      const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
      return {
        name: tf.getBackend(),
        kind: 'wasm',
        threads: wasm.getThreadsCount(),
        simd,
        reason: why,
      };
    },
  },
  cpu: {
    kind: 'cpu',
    async load(why) {
      await activate('cpu');
      return { name: tf.getBackend(), kind: 'cpu', threads: 1, simd: false, reason: why };
    },
  },
};

let current: { preference: BackendPreference; info: BackendInfo } | undefined;
let queue: Promise<unknown> = Promise.resolve();

/**
 * Brings up the TF.js backend for `preference` and makes it the active one.
 * 'auto' means: `MSCR_BACKEND` if set, else tfjs-node if it loads, else wasm (never cpu).
 * Calling again with the same preference returns the current info; another preference switches.
 * Throws MscrError('config') for an explicit 'tensorflow' without tfjs-node or a bad MSCR_BACKEND.
 */
export function initBackend(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  const run = queue.then(() => init(preference));
  queue = run.catch(() => undefined);
  return run;
}

/** The active backend chosen by `initBackend`, if any (undefined after someone else switched). */
export function currentBackend(): BackendInfo | undefined {
  return current !== undefined && current.info.name === tf.getBackend() ? current.info : undefined;
}

async function init(preference: BackendPreference): Promise<BackendInfo> {
  if (!isBackendPreference(preference)) {
    throw new MscrError(
      'config',
      `backend must be one of ${preferences.join(', ')}; got '${String(preference)}'`,
    );
  }
  const request = resolve(preference);
  if (
    current !== undefined &&
    current.preference === request.preference &&
    currentBackend() !== undefined
  ) {
    return current.info;
  }
  const info = await choose(request);
  current = { preference: request.preference, info };
  return info;
}

/** 'auto' defers to MSCR_BACKEND when that is set. */
function resolve(preference: BackendPreference): { preference: BackendPreference; why: string } {
  if (preference !== 'auto') return { preference, why: `requested explicitly (${preference})` };
  const fromEnv = process.env[BACKEND_ENV_VAR];
  if (fromEnv === undefined || fromEnv.trim() === '') return { preference: 'auto', why: 'auto' };
  const chosen = parseBackendPreference(fromEnv, BACKEND_ENV_VAR);
  return { preference: chosen, why: `${BACKEND_ENV_VAR}=${chosen}` };
}

async function choose(request: {
  preference: BackendPreference;
  why: string;
}): Promise<BackendInfo> {
  if (request.preference !== 'auto') return strategies[request.preference].load(request.why);

  const probe = await probeTfjsNode();
  if (probe.ok) return strategies.tensorflow.load(`${request.why}: ${TFJS_NODE} is available`);
  try {
    return await strategies.wasm.load(
      `${request.why}: ${probe.reason}; using wasm (XNNPACK) instead`,
    );
  } catch (error) {
    throw new MscrError(
      'unavailable',
      `no fast TF.js backend: ${probe.reason}, and wasm failed: ${errorMessage(error)}. ` +
        `Use backend 'cpu' explicitly to run on the (slow) plain-JS backend.`,
      { cause: error },
    );
  }
}
