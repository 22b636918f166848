import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError } from '../../connectors/errors.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type { ModelStore } from '../../connectors/store/index.ts';
import { backoffDelay, createManager } from './manager.ts';
import type {
  Handle,
  Loader,
  Manager,
  ManagerEvent,
  ManagerOptions,
  ServableState,
} from './manager.ts';
import { alias, latest } from './policy.ts';
import { createStoreSource } from './source.ts';
import type { Source } from './source.ts';
import {
  corruptFile,
  deferred,
  faultyStore,
  publishSample,
  tempStore,
  waitFor,
} from './test-support.ts';
import type { Deferred } from './test-support.ts';

/** What the test loader serves: the verified manifest of a version. */
interface Servable {
  model: string;
  version: number;
  manifest: ModelManifest;
  unloaded: boolean;
}

/**
 * A loader that really reads each version from the store (`readVersion`: every file's size and
 * sha256 checked), so a corrupt version fails as it would in the TF.js loader. It records its
 * calls, and `hold` makes the next load of a version wait until the test lets it go.
 */
class StoreLoader implements Loader<Servable> {
  readonly loads: string[] = [];
  readonly unloads: string[] = [];
  readonly signals = new Map<string, AbortSignal>();
  private readonly store: ModelStore;
  private readonly gates = new Map<string, Deferred<void>>();

  constructor(store: ModelStore) {
    this.store = store;
  }

  hold(model: string, version: number): Deferred<void> {
    const gate = deferred();
    this.gates.set(`${model}@${version}`, gate);
    return gate;
  }

  async load(model: string, version: number, signal: AbortSignal): Promise<Servable> {
    const key = `${model}@${version}`;
    this.loads.push(key);
    this.signals.set(key, signal);
    const gate = this.gates.get(key);
    if (gate !== undefined) {
      this.gates.delete(key);
      await gate.promise;
    }
    const { manifest } = await this.store.readVersion(model, version);
    return { model, version, manifest, unloaded: false };
  }

  async unload(servable: Servable): Promise<void> {
    servable.unloaded = true;
    this.unloads.push(`${servable.model}@${servable.version}`);
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  dir: string;
  store: ModelStore;
  loader: StoreLoader;
  manager: Manager<Servable>;
  source: Source;
  events: ManagerEvent[];
  /** One poll of the store, emitted to the manager. */
  sync(): Promise<void>;
  /** Makes the source's store calls fail, as in a store outage. */
  setFailing(failing: boolean): void;
}

async function setup(
  options: Partial<ManagerOptions<Servable>> & { models?: string[] } = {},
): Promise<Setup> {
  const temp = await tempStore();
  // The source lists the store through a fault injector (see faultyStore), off by default.
  const faulty = faultyStore(temp.dir);
  const store = faulty.store;
  const loader = new StoreLoader(temp.store);
  const manager = createManager<Servable>({ loader, ...options });
  const events: ManagerEvent[] = [];
  manager.on((event) => events.push(event));
  const source = createStoreSource({ store, models: options.models ?? ['m'] });
  source.onDesired((state) => manager.setDesired(state));
  cleanups.push(async () => {
    await manager.stop();
    await temp.cleanup();
  });
  return {
    dir: temp.dir,
    store: temp.store,
    loader,
    manager,
    source,
    events,
    sync: async () => void (await source.pollOnce()),
    setFailing: faulty.setFailing,
  };
}

function stateOf(
  manager: Manager<Servable>,
  version: number,
  model = 'm',
): ServableState | undefined {
  return manager.status(model).versions.find((v) => v.version === version)?.state;
}

/** Acquires and releases at once; returns the version served. */
function servedVersion(manager: Manager<Servable>, model = 'm'): number {
  const handle = manager.acquire(model);
  handle.release();
  return handle.version;
}

function brief(events: ManagerEvent[]): string[] {
  return events.map((e) =>
    e.type === 'serving' ? `serving ${String(e.version)}` : `${e.type} ${e.version}`,
  );
}

describe('manager', () => {
  test('a new version loads in the background, takes over, and the old one unloads after its handles', async () => {
    const { store, loader, manager, events, sync } = await setup();
    await publishSample(store, 'm', 'v1');
    await sync();
    assert.equal(stateOf(manager, 1), 'LOADING');
    assert.equal(manager.ready('m'), false);
    await waitFor(() => manager.ready('m'), 'v1 available');
    const held = manager.acquire('m');
    assert.equal(held.version, 1);
    assert.equal(held.servable.manifest.version, 1);

    const gate = loader.hold('m', 2);
    await publishSample(store, 'm', 'v2');
    await sync();
    await waitFor(() => loader.loads.includes('m@2'), 'v2 load started');
    // v2 is loading: v1 keeps serving.
    assert.equal(stateOf(manager, 2), 'LOADING');
    assert.equal(manager.status('m').serving, 1);
    assert.equal(servedVersion(manager), 1);

    gate.resolve();
    await waitFor(() => stateOf(manager, 2) === 'AVAILABLE', 'v2 available');
    assert.equal(manager.status('m').serving, 2);
    assert.equal(servedVersion(manager), 2);
    // v1 waits for the handle still held on it.
    const v1 = manager.status('m').versions.find((v) => v.version === 1);
    assert.equal(v1?.state, 'UNLOADING');
    assert.equal(v1?.handles, 1);
    assert.deepEqual(loader.unloads, []);
    assert.throws(
      () => manager.acquire('m', 1),
      (e: unknown) => isMscrError(e, 'not_found'),
    );

    held.release();
    held.release(); // a second release does nothing
    await waitFor(() => stateOf(manager, 1) === 'END', 'v1 ended');
    assert.deepEqual(loader.unloads, ['m@1']);
    assert.equal(held.servable.unloaded, true);
    assert.deepEqual(brief(events), [
      'loading 1',
      'available 1',
      'serving 1',
      'loading 2',
      'available 2',
      'serving 2',
      'unloading 1',
      'unloaded 1',
    ]);
    const status = manager.status('m');
    assert.equal(status.policy, 'latest:1');
    assert.deepEqual(status.aspired, [2]);
    assert.deepEqual(status.storeVersions, [1, 2]);
    const ended = status.versions.find((v) => v.version === 1);
    assert.ok(ended?.timestamps.LOADING !== undefined && ended.timestamps.AVAILABLE !== undefined);
    assert.ok(ended.timestamps.UNLOADING !== undefined && ended.timestamps.END !== undefined);
  });

  test('a corrupt version fails with the error, is not retried early, and never takes the serving version down', async () => {
    const { dir, store, manager, events, loader, sync } = await setup({
      backoff: { baseMs: 60_000, maxMs: 60_000 },
    });
    await publishSample(store, 'm', 'v1');
    await sync();
    await waitFor(() => manager.ready('m'), 'v1 available');
    await publishSample(store, 'm', 'v2');
    await corruptFile(dir, 'm', 2, 'group1-shard1of1.bin');
    assert.deepEqual(await store.listVersions('m'), [1, 2]); // listings check sizes only
    await sync();
    await waitFor(() => stateOf(manager, 2) === 'FAILED', 'v2 failed');

    const v2 = manager.status('m').versions.find((v) => v.version === 2);
    assert.match(
      v2?.error ?? '',
      /group1-shard1of1\.bin has sha256 [0-9a-f]+, manifest\.json says/,
    );
    assert.equal(v2?.attempts, 1);
    assert.ok(v2?.nextRetryAt !== undefined);
    const failed = events.find((e) => e.type === 'failed');
    assert.deepEqual(failed && { ...failed, error: '' }, {
      type: 'failed',
      model: 'm',
      version: 2,
      attempt: 1,
      error: '',
      retryInMs: 60_000,
    });
    // v1 keeps serving.
    assert.equal(stateOf(manager, 1), 'AVAILABLE');
    assert.equal(servedVersion(manager), 1);
    assert.equal(manager.ready('m'), true);

    // Emissions of the same state neither retry nor reset the backoff.
    for (let i = 0; i < 3; i++) await sync();
    assert.equal(stateOf(manager, 2), 'FAILED');
    assert.equal(loader.loads.filter((k) => k === 'm@2').length, 1);

    // The version disappears (deleted) and reappears (published again, repaired): a fresh start.
    await store.deleteVersion('m', 2);
    await sync();
    assert.equal(stateOf(manager, 2), 'END');
    assert.equal(events.at(-1)?.type, 'cancelled');
    const republished = await publishSample(store, 'm', 'v2-fixed');
    assert.equal(republished.version, 2);
    await sync();
    await waitFor(() => manager.status('m').serving === 2, 'v2 serving');
    const fresh = manager.status('m').versions.find((v) => v.version === 2);
    assert.equal(fresh?.attempts, 1);
    assert.equal(fresh?.error, undefined);
  });

  test('failed loads are retried with exponential backoff up to the maximum', async () => {
    const { dir, store, manager, events, sync } = await setup({
      backoff: { baseMs: 4, maxMs: 16 },
    });
    await publishSample(store, 'm', 'v1');
    await sync();
    await waitFor(() => manager.ready('m'), 'v1 available');
    await publishSample(store, 'm', 'v2');
    await corruptFile(dir, 'm', 2, 'group1-shard1of1.bin');
    await sync();
    const failures = () => events.filter((e) => e.type === 'failed');
    await waitFor(() => failures().length >= 5, 'five failed attempts');
    // Requests keep being served by v1 all along.
    assert.equal(servedVersion(manager), 1);
    await sync(); // an emission in between does not reset the backoff
    await waitFor(() => failures().length >= 6, 'six failed attempts');
    const seen = failures().slice(0, 6);
    assert.deepEqual(
      seen.map((e) => (e.type === 'failed' ? [e.attempt, e.retryInMs] : [])),
      [
        [1, 4],
        [2, 8],
        [3, 16],
        [4, 16],
        [5, 16],
        [6, 16],
      ],
    );
    assert.ok(manager.status('m').versions.find((v) => v.version === 2)!.attempts >= 6);
    assert.equal(stateOf(manager, 1), 'AVAILABLE');
    assert.equal(manager.status('m').serving, 1);
  });

  test('backoffDelay doubles from the base and stops at the maximum', () => {
    const backoff = { baseMs: 1000, maxMs: 300_000 };
    assert.deepEqual(
      [1, 2, 3, 4, 9, 10, 1000].map((n) => backoffDelay(n, backoff)),
      [1000, 2000, 4000, 8000, 256_000, 300_000, 300_000],
    );
  });

  test('concurrent requests during a switch never fail and never go back to the old version', async () => {
    const { store, loader, manager, sync } = await setup();
    await publishSample(store, 'm', 'v1');
    await sync();
    await waitFor(() => manager.ready('m'), 'v1 available');

    const gate = loader.hold('m', 2);
    await publishSample(store, 'm', 'v2');
    await sync();
    const served: number[] = [];
    const errors: unknown[] = [];
    let switching = true;
    const client = async (): Promise<void> => {
      while (switching) {
        let handle: Handle<Servable> | undefined;
        try {
          handle = manager.acquire('m');
          served.push(handle.version);
          assert.equal(handle.servable.unloaded, false);
          await new Promise((resolve) => setImmediate(resolve));
          assert.equal(handle.servable.unloaded, false); // never unloaded under a request
        } catch (error) {
          errors.push(error);
        } finally {
          handle?.release();
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    await waitFor(() => served.length > 50, 'requests on v1');
    gate.resolve();
    await waitFor(() => stateOf(manager, 1) === 'END', 'v1 ended under load');
    const after = served.length;
    await waitFor(() => served.length > after + 50, 'requests on v2');
    switching = false;
    await Promise.all(clients);

    assert.deepEqual(errors, []);
    const first2 = served.indexOf(2);
    assert.ok(served.indexOf(1) === 0 && first2 > 0, 'served v1, then v2');
    assert.ok(
      served.slice(first2).every((v) => v === 2),
      'no request went back to v1',
    );
  });

  test('latest(2) keeps the two newest versions and serves the newest', async () => {
    const { store, manager, loader, sync } = await setup({ policy: latest(2) });
    for (const seed of ['v1', 'v2', 'v3']) await publishSample(store, 'm', seed);
    await sync();
    await waitFor(
      () => stateOf(manager, 2) === 'AVAILABLE' && stateOf(manager, 3) === 'AVAILABLE',
      'v2 and v3',
    );
    assert.deepEqual(loader.loads, ['m@3', 'm@2']); // the newest first
    assert.equal(manager.status('m').serving, 3);
    const pinned = manager.acquire('m', 2);
    assert.equal(pinned.version, 2);
    pinned.release();
    assert.throws(
      () => manager.acquire('m', 1),
      (error: unknown) =>
        isMscrError(error, 'not_found') &&
        error.message ===
          'version 1 of model m is not available (not loaded); available versions: 2, 3',
    );

    await publishSample(store, 'm', 'v4');
    await sync();
    await waitFor(
      () => stateOf(manager, 2) === 'END' && stateOf(manager, 4) === 'AVAILABLE',
      'v3, v4',
    );
    assert.equal(stateOf(manager, 3), 'AVAILABLE');
    assert.equal(servedVersion(manager), 4);
    const older = manager.acquire('m', 3);
    assert.equal(older.version, 3);
    older.release();
  });

  test('the alias policy follows the alias, also back to an older version', async () => {
    const { store, manager, sync } = await setup({ policy: alias('stable') });
    await publishSample(store, 'm', 'v1', { alias: 'stable' });
    await publishSample(store, 'm', 'v2');
    await sync();
    await waitFor(() => manager.ready('m'), 'v1 available');
    assert.equal(servedVersion(manager), 1);
    assert.equal(stateOf(manager, 2), undefined); // not aliased, not loaded
    assert.equal(manager.resolveAlias('m', 'stable'), 1);

    await store.setAlias('m', 'stable', 2);
    await sync();
    await waitFor(() => stateOf(manager, 1) === 'END', 'v1 unloaded');
    assert.equal(servedVersion(manager), 2);
    assert.equal(manager.resolveAlias('m', 'stable'), 2);

    await store.rollbackAlias('m', 'stable');
    await sync();
    await waitFor(() => stateOf(manager, 2) === 'END', 'v2 unloaded after the rollback');
    assert.equal(servedVersion(manager), 1); // the aliased version, although lower
    assert.equal(manager.status('m').policy, 'alias:stable');
    assert.throws(
      () => manager.resolveAlias('m', 'canary'),
      (error: unknown) => isMscrError(error, 'not_found') && /aliases: stable/.test(error.message),
    );
  });

  test('unknown models and versions, and models with nothing available, are told apart', async () => {
    const { store, loader, manager, sync } = await setup();
    assert.throws(
      () => manager.acquire('nope'),
      (error: unknown) =>
        isMscrError(error, 'not_found') && /unknown model "nope"/.test(error.message),
    );
    assert.equal(manager.ready('nope'), false);
    assert.throws(
      () => manager.status('nope'),
      (e: unknown) => isMscrError(e, 'not_found'),
    );

    await sync(); // m is configured but has no version yet
    assert.deepEqual(manager.models(), ['m']);
    assert.throws(
      () => manager.acquire('m'),
      (error: unknown) =>
        isMscrError(error, 'unavailable') &&
        error.message === 'model m has no available version (no ready version in the store)',
    );

    const gate = loader.hold('m', 1);
    await publishSample(store, 'm', 'v1');
    await sync();
    assert.throws(
      () => manager.acquire('m'),
      (error: unknown) =>
        isMscrError(error, 'unavailable') &&
        error.message === 'model m has no available version (version 1 LOADING)',
    );
    assert.throws(
      () => manager.acquire('m', 1),
      (error: unknown) =>
        isMscrError(error, 'not_found') &&
        error.message ===
          'version 1 of model m is not available (LOADING); available versions: none',
    );
    gate.resolve();
    await waitFor(() => manager.ready('m'), 'v1 available');
    assert.throws(
      () => manager.acquire('m', 7),
      (error: unknown) =>
        isMscrError(error, 'not_found') && /available versions: 1$/.test(error.message),
    );
    assert.throws(
      () => manager.acquire('m', 0),
      (e: unknown) => isMscrError(e, 'bad_request'),
    );
  });

  test('a store outage keeps serving; so does an emptied store (suspect), until a version is back', async () => {
    const { store, manager, events, sync, setFailing, source } = await setup();
    await publishSample(store, 'm', 'v1');
    await sync();
    await waitFor(() => manager.ready('m'), 'v1 available');

    setFailing(true); // the source's listings fail: it emits nothing
    for (let i = 0; i < 3; i++) await sync();
    assert.equal(manager.ready('m'), true);
    assert.equal(servedVersion(manager), 1);
    setFailing(false);

    // No ready version of any model right after one: suspect (issue 15), nothing emitted.
    await store.deleteVersion('m', 1);
    const poll = await source.pollOnce();
    assert.deepEqual(poll.emitted, []);
    assert.match(poll.errors[0]?.message ?? '', /lists no ready versions .* keep serving/);
    assert.equal(manager.ready('m'), true);
    assert.equal(servedVersion(manager), 1);

    // A published version is a real listing again: it is emitted and applied.
    await publishSample(store, 'm', 'v2');
    const back = await source.pollOnce();
    assert.equal(back.emitted.length, 1);
    assert.deepEqual(back.errors, []);
    await waitFor(() => manager.ready('m'), 'serving again');
    assert.ok(!events.some((e) => e.type === 'failed'));
  });

  test('a version dropped while it loads has its load aborted and never serves', async () => {
    const { store, loader, manager, events, sync } = await setup();
    await publishSample(store, 'm', 'v1');
    await sync();
    await waitFor(() => manager.ready('m'), 'v1 available');
    const gate = loader.hold('m', 2);
    await publishSample(store, 'm', 'v2');
    await sync();
    await waitFor(() => loader.signals.has('m@2'), 'v2 loading');
    await store.deleteVersion('m', 2);
    await sync();
    assert.equal(loader.signals.get('m@2')?.aborted, true);
    gate.resolve();
    await waitFor(() => stateOf(manager, 2) === 'END', 'v2 ended');
    assert.ok(events.some((e) => e.type === 'cancelled' && e.version === 2));
    assert.ok(!events.some((e) => e.type === 'failed'));
    assert.equal(servedVersion(manager), 1);
  });

  test('stop unloads every version once its handles are released', async () => {
    const { store, loader, manager, sync } = await setup({ policy: latest(2) });
    await publishSample(store, 'm', 'v1');
    await publishSample(store, 'm', 'v2');
    await sync();
    await waitFor(() => manager.status('m').versions.every((v) => v.state === 'AVAILABLE'), 'both');
    const held = manager.acquire('m', 1);
    let stopped = false;
    const stopping = manager.stop().then(() => {
      stopped = true;
    });
    await waitFor(() => stateOf(manager, 2) === 'END', 'v2 ended');
    assert.equal(stateOf(manager, 1), 'UNLOADING');
    assert.equal(stopped, false);
    assert.throws(
      () => manager.acquire('m'),
      (e: unknown) => isMscrError(e, 'unavailable'),
    );
    held.release();
    await stopping;
    assert.equal(stateOf(manager, 1), 'END');
    assert.deepEqual(loader.unloads.sort(), ['m@1', 'm@2']);
    // Desired states after stop are ignored.
    await sync();
    assert.equal(manager.ready('m'), false);
  });

  test('a listener that throws does not break reconciliation; on() returns an unsubscribe', async () => {
    const { store, manager, sync } = await setup();
    manager.on(() => {
      throw new Error('metrics bug');
    });
    const seen: string[] = [];
    const off = manager.on((e) => seen.push(e.type));
    await publishSample(store, 'm', 'v1');
    await sync();
    await waitFor(() => manager.ready('m'), 'v1 available');
    off();
    const count = seen.length;
    await publishSample(store, 'm', 'v2');
    await sync();
    await waitFor(() => servedVersion(manager) === 2, 'v2 serving');
    assert.equal(seen.length, count);
  });

  test('bad options are config errors', () => {
    const loader: Loader<number> = { load: async () => 1, unload: async () => undefined };
    for (const backoff of [{ baseMs: 0 }, { baseMs: 10, maxMs: 5 }, { maxMs: -1 }]) {
      assert.throws(
        () => createManager({ loader, backoff }),
        (e: unknown) => isMscrError(e, 'config'),
      );
    }
    assert.throws(
      () => createManager({ loader, maxConcurrentLoads: 0 }),
      (e: unknown) => isMscrError(e, 'config'),
    );
  });
});
