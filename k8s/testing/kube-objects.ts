/**
 * Small helpers of the cluster tests: read any object as the admin, compare a rendered
 * manifest with what the API server stored, poll until something holds.
 */
import assert from 'node:assert/strict';
import { ApiException, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';

// Objects read back are indexed freely by the assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = Record<string, any>;

export function objectApi(kubeconfigPath: string): KubernetesObjectApi {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  return KubernetesObjectApi.makeApiClient(config);
}

/** The stored object, or undefined when the API server answers 404. */
export async function readObject(
  api: KubernetesObjectApi,
  header: { apiVersion: string; kind: string; name: string; namespace?: string },
): Promise<Loose | undefined> {
  const { apiVersion, kind, name, namespace } = header;
  try {
    const spec: KubernetesObject = { apiVersion, kind, metadata: { name, namespace } };
    return (await api.read(spec as never)) as Loose;
  } catch (error) {
    if (error instanceof ApiException && Number(error.code) === 404) return undefined;
    throw error;
  }
}

/**
 * Asserts that every field of the rendered manifest is stored with its value. What the API
 * server leaves out is allowed: nulls, empty maps and lists. Scalars compare as text, since
 * the server keeps quantities and int-or-strings as strings ("1" for 1).
 */
export function assertStoredAsRendered(rendered: unknown, stored: unknown, path: string): void {
  if (rendered === null || rendered === undefined) return;
  if (Array.isArray(rendered)) {
    if (rendered.length === 0 && stored === undefined) return;
    assert.ok(Array.isArray(stored), `${path}: stored ${JSON.stringify(stored)}, rendered a list`);
    assert.equal(stored.length, rendered.length, `${path}: list length`);
    rendered.forEach((item, i) => assertStoredAsRendered(item, stored[i], `${path}[${i}]`));
    return;
  }
  if (typeof rendered === 'object') {
    if (Object.keys(rendered).length === 0 && stored === undefined) return;
    assert.ok(stored && typeof stored === 'object', `${path}: missing (rendered an object)`);
    for (const [key, value] of Object.entries(rendered)) {
      assertStoredAsRendered(value, (stored as Loose)[key], `${path}.${key}`);
    }
    return;
  }
  assert.equal(String(stored), String(rendered), `${path}: stored value`);
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
