// The content cache on its own, and the two things that keep polling and loading from a
// cloud store cheap: files read once per cache, ready versions inspected once per store.
// The object store under test is the real local adapter with its calls counted.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createContentCache } from './content-cache.ts';
import { sampleDraft, sampleFiles, seededBytes } from './contract-fixtures.ts';
import { createLocalObjectStore } from './local-store.ts';
import { createModelStore, sha256Hex } from './model-store.ts';
import type { ObjectStore } from './object-store.ts';

type Calls = Record<'get' | 'stat' | 'list' | 'put', string[]>;

/** The real store, with every call recorded by key. */
function counted(store: ObjectStore): { store: ObjectStore; calls: Calls; reset(): void } {
  const calls: Calls = { get: [], stat: [], list: [], put: [] };
  return {
    calls,
    reset: () => Object.values(calls).forEach((list) => (list.length = 0)),
    store: {
      uri: store.uri,
      get: (key) => (calls.get.push(key), store.get(key)),
      stat: (key) => (calls.stat.push(key), store.stat(key)),
      list: (prefix) => (calls.list.push(prefix), store.list(prefix)),
      put: (key, body) => (calls.put.push(key), store.put(key, body)),
      putIfAbsent: (key, body) => store.putIfAbsent(key, body),
      delete: (key) => store.delete(key),
    },
  };
}

let tmp: string;
let counter = 0;
const fresh = (label: string): string => path.join(tmp, `${label}-${++counter}`);
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mscr-cache-'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('content cache', () => {
  test('keeps bytes by sha256, misses on unknown or malformed keys', async () => {
    const cache = createContentCache({ dir: fresh('cache') });
    const body = seededBytes('a', 1000);
    const sum = sha256Hex(body);
    assert.equal(await cache.get(sum), undefined);
    await cache.put(sum, body);
    assert.deepEqual(await cache.get(sum), body);
    assert.equal(await cache.get('../../etc/passwd'), undefined);
    await cache.put('../escape', body); // ignored, nothing written outside the folder
    assert.deepEqual(await fs.readdir(path.join(cache.dir, 'sha256')), [sum]);
  });

  test('an entry whose bytes no longer match its name is dropped, not returned', async () => {
    const cache = createContentCache({ dir: fresh('cache') });
    const body = seededBytes('b', 500);
    const sum = sha256Hex(body);
    await cache.put(sum, body);
    await fs.writeFile(path.join(cache.dir, 'sha256', sum), 'tampered');
    assert.equal(await cache.get(sum), undefined);
    await assert.rejects(fs.stat(path.join(cache.dir, 'sha256', sum)), { code: 'ENOENT' });
  });

  test('stays under maxBytes by dropping the least recently used entries', async () => {
    const cache = createContentCache({ dir: fresh('cache'), maxBytes: 2500 });
    const bodies = ['x', 'y', 'z'].map((seed) => seededBytes(seed, 1000));
    const sums = bodies.map((body) => sha256Hex(body));
    await cache.put(sums[0]!, bodies[0]!);
    await cache.put(sums[1]!, bodies[1]!);
    // Use the first one, so the second is now the least recently used.
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(path.join(cache.dir, 'sha256', sums[1]!), old, old);
    assert.ok(await cache.get(sums[0]!));
    await cache.put(sums[2]!, bodies[2]!);
    assert.ok(await cache.get(sums[0]!));
    assert.equal(await cache.get(sums[1]!), undefined);
    assert.ok(await cache.get(sums[2]!));
  });

  test('bad options are config errors', () => {
    assert.throws(() => createContentCache({ dir: '' }), { code: 'config' });
    assert.throws(() => createContentCache({ dir: fresh('c'), maxBytes: 0 }), { code: 'config' });
  });
});

describe('model store with a content cache', () => {
  test('a version is downloaded once; the second read comes from the cache', async () => {
    const root = fresh('store');
    const local = createLocalObjectStore(root);
    const { store: objects, calls, reset } = counted(local);
    const cache = createContentCache({ dir: fresh('cache') });
    const models = createModelStore(objects, { cache });
    await models.publish(sampleDraft('m'), sampleFiles('one', 64 * 1024));
    const first = await models.readVersion('m', 1);
    assert.ok(calls.get.includes('m/1/group1-shard1of1.bin'));
    reset();
    // A second store on the same cache (a restarted server) reads only the manifest.
    const again = createModelStore(objects, { cache });
    const second = await again.readVersion('m', 1);
    assert.deepEqual(calls.get, ['m/1/manifest.json']);
    assert.deepEqual(second.files, first.files);
  });

  test('a cached file never hides a version that is gone or changed', async () => {
    const root = fresh('store');
    const cache = createContentCache({ dir: fresh('cache') });
    const models = createModelStore(createLocalObjectStore(root), { cache });
    await models.publish(sampleDraft('m'), sampleFiles('two'));
    await models.readVersion('m', 1);
    await models.deleteVersion('m', 1);
    await assert.rejects(models.readVersion('m', 1), { code: 'not_found' });
  });
});

describe('listVersions polls cheaply', () => {
  test('a ready version is inspected once; a poll of an unchanged model is one listing', async () => {
    const root = fresh('store');
    const { store: objects, calls, reset } = counted(createLocalObjectStore(root));
    const models = createModelStore(objects);
    for (const seed of ['a', 'b', 'c']) await models.publish(sampleDraft('m'), sampleFiles(seed));
    reset();
    assert.deepEqual(await models.listVersions('m'), [1, 2, 3]);
    assert.equal(calls.get.length, 3, 'three manifests read on the first poll');
    reset();
    assert.deepEqual(await models.listVersions('m'), [1, 2, 3]);
    assert.deepEqual(calls, { get: [], stat: [], list: ['m/'], put: [] });
  });

  test('versions published or deleted by another process show up on the next poll', async () => {
    const root = fresh('store');
    const poller = createModelStore(createLocalObjectStore(root));
    const publisher = createModelStore(createLocalObjectStore(root));
    await publisher.publish(sampleDraft('m'), sampleFiles('a'));
    await publisher.publish(sampleDraft('m'), sampleFiles('b'));
    assert.deepEqual(await poller.listVersions('m'), [1, 2]);
    await publisher.deleteVersion('m', 2);
    assert.deepEqual(await poller.listVersions('m'), [1]);
    // The number is free again; the new version 2 is inspected, not taken from memory.
    const republished = await publisher.publish(sampleDraft('m'), sampleFiles('c'));
    assert.equal(republished.version, 2);
    assert.deepEqual(await poller.listVersions('m'), [1, 2]);
    // A half-written version (claim, no manifest) is not listed until its manifest lands.
    await fs.mkdir(path.join(root, 'm', '3'));
    await fs.writeFile(path.join(root, 'm', '3', '.claim'), '{}');
    assert.deepEqual(await poller.listVersions('m'), [1, 2]);
  });
});
