/**
 * An object store whose adapter is loaded on first use. The cloud SDKs take about half a
 * second to import; a `file://` user, and every CLI command that never touches S3 or GCS,
 * should not pay for them (nor see their start-up warnings).
 */
import type { ObjectStore } from './object-store.ts';

/** `uri` is known up front (the URI was already parsed); `load` imports and builds the adapter. */
export function lazyObjectStore(uri: string, load: () => Promise<ObjectStore>): ObjectStore {
  let loading: Promise<ObjectStore> | undefined;
  const store = (): Promise<ObjectStore> => (loading ??= load());
  return {
    uri,
    get: async (key) => (await store()).get(key),
    stat: async (key) => (await store()).stat(key),
    put: async (key, body) => (await store()).put(key, body),
    putIfAbsent: async (key, body) => (await store()).putIfAbsent(key, body),
    list: async (prefix) => (await store()).list(prefix),
    delete: async (key) => (await store()).delete(key),
  };
}
