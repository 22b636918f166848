/** Test support for the hot-reload tests: real stores in temp folders, waiting, gates. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MscrError } from '../../connectors/errors.ts';
import type { ManifestDraft, ModelManifest } from '../../connectors/ms/manifest.ts';
import { sampleDraft, sampleFiles } from '../../connectors/store/contract-fixtures.ts';
import {
  createLocalObjectStore,
  createModelStore,
  openStore,
} from '../../connectors/store/index.ts';
import type { ModelStore, ObjectStore } from '../../connectors/store/index.ts';

export interface TempStore {
  dir: string;
  store: ModelStore;
  cleanup(): Promise<void>;
}

/** A real local model store in a fresh temp folder. */
export async function tempStore(): Promise<TempStore> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mscr-reload-'));
  return {
    dir,
    store: openStore(dir),
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

/**
 * A fault injector around the real local object store: while `failing` is set, every call
 * rejects with `unavailable`, as a store outage does. Not a mock: it forwards to the real
 * store otherwise. (The tests run as root, so an unreadable folder cannot simulate an outage.)
 */
export function faultyStore(dir: string): {
  store: ModelStore;
  setFailing(failing: boolean): void;
} {
  const real = createLocalObjectStore(dir);
  let failing = false;
  const guard = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => {
    return async (...args: A): Promise<R> => {
      if (failing) throw new MscrError('unavailable', `store outage (injected) at ${real.uri}`);
      return fn(...args);
    };
  };
  const objects: ObjectStore = {
    uri: real.uri,
    get: guard((key: string) => real.get(key)),
    stat: guard((key: string) => real.stat(key)),
    put: guard((key: string, body: Uint8Array) => real.put(key, body)),
    putIfAbsent: guard((key: string, body: Uint8Array) => real.putIfAbsent(key, body)),
    list: guard((prefix: string) => real.list(prefix)),
    delete: guard((key: string) => real.delete(key)),
  };
  return {
    store: createModelStore(objects),
    setFailing: (value) => {
      failing = value;
    },
  };
}

/** Publishes a sample version (a `model.json` and one shard; not a loadable TF.js model). */
export function publishSample(
  store: ModelStore,
  model: string,
  seed: string,
  opts: { alias?: string } = {},
): Promise<ModelManifest> {
  const draft: ManifestDraft = sampleDraft(model);
  return store.publish(draft, sampleFiles(`${model}-${seed}`), opts);
}

/** Flips one byte of a stored file in place: same size, so listings still call the version ready, but its sha256 no longer matches. */
export async function corruptFile(
  dir: string,
  model: string,
  version: number,
  file: string,
): Promise<void> {
  const where = path.join(dir, model, String(version), file);
  const bytes = await fs.readFile(where);
  bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
  await fs.writeFile(where, bytes);
}

/** Resolves once `predicate` holds, checking every few milliseconds; the timeout only turns a hang into a readable failure. */
export async function waitFor(
  predicate: () => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
