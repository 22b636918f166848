import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { rejectsWith } from './contract.ts';
import { TEMP_PREFIX, createLocalObjectStore } from './local-store.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);

/** Every file under `dir`, relative, including temp files. */
async function allFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe('local object store', () => {
  let outer: string;
  let root: string;
  let counter = 0;

  before(async () => {
    outer = await fs.mkdtemp(path.join(os.tmpdir(), 'mscr-local-'));
  });
  after(async () => {
    await fs.rm(outer, { recursive: true, force: true });
  });

  /** A fresh store in its own folder under `outer`. */
  async function fresh(): Promise<ReturnType<typeof createLocalObjectStore>> {
    root = path.join(outer, `root-${++counter}`);
    await fs.mkdir(root);
    return createLocalObjectStore(root);
  }

  test('put, get, stat, overwrite and delete', async () => {
    const store = await fresh();
    await store.put('m/1/model.json', bytes('one'));
    assert.equal(text(await store.get('m/1/model.json')), 'one');
    assert.deepEqual(await store.stat('m/1/model.json'), { size: 3 });
    await store.put('m/1/model.json', bytes('three'));
    assert.equal(text(await store.get('m/1/model.json')), 'three');
    assert.equal(await fs.readFile(path.join(root, 'm', '1', 'model.json'), 'utf8'), 'three');
    assert.equal(await store.stat('m/1/other'), undefined);
    assert.equal(await store.stat('m/1'), undefined, 'a folder is not an object');
    await store.delete('m/1/model.json');
    await store.delete('m/1/model.json'); // missing: not an error
    assert.equal(await store.stat('m/1/model.json'), undefined);
    // Empty folders are pruned up to, not including, the root.
    assert.deepEqual(await fs.readdir(root), []);
    assert.deepEqual(await allFiles(root), []);
  });

  test('a missing store folder is unavailable (a missing bucket), a missing prefix is empty', async () => {
    const store = createLocalObjectStore(path.join(root, 'no-such-store'));
    await rejectsWith(store.list(''), 'unavailable', 'store folder does not exist');
    const existing = await fresh();
    assert.deepEqual(await existing.list('ghost/'), { objects: [], prefixes: [] });
  });

  test('get of a missing object is not_found and names the URI and operation', async () => {
    const store = await fresh();
    const uri = pathToFileURL(root).href;
    await rejectsWith(store.get('m/1/model.json'), 'not_found', `reading ${uri}/m/1/model.json`);
    await store.put('m/1/x', bytes('x'));
    await rejectsWith(store.get('m/1'), 'not_found', 'folder');
    // A write under a path that is a file fails with the URI and operation.
    await rejectsWith(store.put('m/1/x/y', bytes('y')), 'conflict', `writing ${uri}/m/1/x/y`);
    await rejectsWith(store.put('m/1', bytes('y')), 'conflict', `writing ${uri}/m/1`);
    await rejectsWith(store.putIfAbsent('m/1', bytes('y')), 'conflict', `creating ${uri}/m/1`);
  });

  test('putIfAbsent: exactly one of 50 concurrent writers wins and its content is whole', async () => {
    const store = await fresh();
    const bodies = Array.from({ length: 50 }, (_, i) => bytes(`writer-${i}-`.repeat(2000)));
    const results = await Promise.all(bodies.map((body) => store.putIfAbsent('m/7/.claim', body)));
    const winners = results.flatMap((won, i) => (won ? [i] : []));
    assert.equal(winners.length, 1);
    const winner = bodies[winners[0] ?? -1];
    assert.ok(winner !== undefined);
    assert.deepEqual(Buffer.from(await store.get('m/7/.claim')), Buffer.from(winner));
    assert.equal(await store.putIfAbsent('m/7/.claim', bytes('late')), false);
    assert.deepEqual(await allFiles(root), [path.join('m', '7', '.claim')], 'no temp files left');
  });

  test('put is atomic for readers: a read sees one whole version, never a mix', async () => {
    const store = await fresh();
    const a = new Uint8Array(1 << 20).fill(0x61);
    const b = new Uint8Array(1 << 20).fill(0x62);
    await store.put('big.bin', a);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 30; i++) await store.put('big.bin', i % 2 === 0 ? b : a);
      writing = false;
    })();
    let reads = 0;
    const readers = Array.from({ length: 3 }, async () => {
      while (writing) {
        const data = await store.get('big.bin');
        reads++;
        assert.equal(data.byteLength, a.byteLength);
        const first = data[0];
        assert.ok(first === 0x61 || first === 0x62);
        assert.ok(
          data.every((x) => x === first),
          'a read mixed two writes',
        );
      }
    });
    await Promise.all([writer, ...readers]);
    assert.ok(reads > 0);
    assert.deepEqual(await allFiles(root), ['big.bin'], 'no temp files left');
  });

  test('list returns direct children, sorted, without temp files', async () => {
    const store = await fresh();
    for (const key of [
      'm/1/model.json',
      'm/1/w.bin',
      'm/2/model.json',
      'm/aliases/stable.json',
      'm/README',
    ]) {
      await store.put(key, bytes(key));
    }
    await store.put('other/1/x', bytes('x'));
    await fs.writeFile(path.join(root, 'm', `${TEMP_PREFIX}123-abc`), 'partial');
    await fs.mkdir(path.join(root, 'm', `${TEMP_PREFIX}dir`));
    assert.deepEqual(await store.list(''), { objects: [], prefixes: ['m/', 'other/'] });
    assert.deepEqual(await store.list('m/'), {
      objects: ['README'],
      prefixes: ['1/', '2/', 'aliases/'],
    });
    assert.deepEqual(await store.list('m/1/'), { objects: ['model.json', 'w.bin'], prefixes: [] });
    assert.deepEqual(await store.list('nothing/'), { objects: [], prefixes: [] });
    assert.deepEqual(await store.list('m/README/'), { objects: [], prefixes: [] });
    await rejectsWith(store.get(`m/${TEMP_PREFIX}123-abc`), 'bad_request', 'reserved');
  });

  test('hostile keys never touch anything outside the root', async () => {
    const store = await fresh();
    const before = (await fs.readdir(outer)).sort();
    const hostile = [
      '../escaped',
      '../../escaped',
      'a/../../escaped',
      'a/../inside',
      `/${path.join(outer, 'escaped')}`,
      path.join(outer, 'escaped'),
      '..\\escaped',
      'a\\..\\..\\escaped',
      'C:/escaped',
      'a//b',
      './a',
      'a/.',
      '',
      'a\0b',
    ];
    for (const key of hostile) {
      await rejectsWith(store.put(key, bytes('x')), 'bad_request');
      await rejectsWith(store.putIfAbsent(key, bytes('x')), 'bad_request');
      await rejectsWith(store.get(key), 'bad_request');
      await rejectsWith(store.stat(key), 'bad_request');
      await rejectsWith(store.delete(key), 'bad_request');
    }
    for (const prefix of ['../', '../../', '/', `${outer}/`, 'a/../../']) {
      await rejectsWith(store.list(prefix), 'bad_request');
    }
    assert.deepEqual((await fs.readdir(outer)).sort(), before);
    assert.deepEqual(await allFiles(root), []);
  });

  test('a file:// URI and a plain path name the same folder', async () => {
    const store = await fresh();
    const byUri = createLocalObjectStore(pathToFileURL(root).href);
    const byPath = createLocalObjectStore(`${root}/`);
    assert.equal(byUri.uri, pathToFileURL(root).href);
    assert.equal(byPath.uri, byUri.uri);
    assert.ok(byUri.uri.startsWith('file:///'));
    await byUri.put('k', bytes('v'));
    assert.equal(text(await byPath.get('k')), 'v');
    assert.equal(text(await store.get('k')), 'v');
    // Relative forms resolve against the working directory.
    assert.equal(createLocalObjectStore('file://./models').root, path.resolve('models'));
    assert.equal(createLocalObjectStore('models').root, path.resolve('models'));
    assert.equal(createLocalObjectStore('file://localhost/srv/m').root, path.resolve('/srv/m'));
    assert.equal(
      createLocalObjectStore('file:///srv/my%20models').root,
      path.resolve('/srv/my models'),
    );
    assert.throws(() => createLocalObjectStore('file://host/share'), { code: 'config' });
  });

  test('concurrent deletes that prune folders do not break concurrent puts', async () => {
    const store = await fresh();
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const key = `m/${i % 5}/f${i}`;
        await store.put(key, bytes(String(i)));
        await store.delete(key);
        await store.put(`${key}-kept`, bytes(String(i)));
      }),
    );
    const files = await allFiles(root);
    assert.equal(files.length, 200);
    assert.ok(files.every((f) => f.endsWith('-kept')));
  });
});
