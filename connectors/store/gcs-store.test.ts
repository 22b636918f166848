// The GCS adapter against the real fake-gcs-server (filesystem backend, loopback http):
// the model store contract, conditional creates under contention, resumable uploads, and
// faults (server down, missing bucket, lost responses, hostile keys and URIs).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Storage } from '@google-cloud/storage';
import { isMscrError } from '../errors.ts';
import { rejectsWith, runModelStoreContract } from './contract.ts';
import { seededBytes } from './contract-fixtures.ts';
import { createGcsObjectStore, parseGcsUri, scrub } from './gcs-store.ts';
import type { GcsObjectStore, GcsStoreOptions } from './gcs-store.ts';
import { createModelStore } from './model-store.ts';
import { startFakeGcs, startRecordingProxy } from './testing/fake-gcs.ts';
import type { FakeGcs } from './testing/fake-gcs.ts';

const MiB = 1024 * 1024;
const runId = randomBytes(4).toString('hex');
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);
/** Quick retries for fault tests (the defaults back off 200 ms, 400 ms, 800 ms). */
const FAST: GcsStoreOptions = { retries: 2, retryDelayMs: 5, maxRetryDelayMs: 20 };

// One server for the whole file, started on first use.
let shared: Promise<FakeGcs> | undefined;
const server = (): Promise<FakeGcs> => (shared ??= startFakeGcs());
after(async () => {
  if (shared !== undefined) await (await shared).stop();
});

/** A raw SDK client on the fake server, for setting up what the adapter would not write. */
function rawBucket(gcs: FakeGcs): ReturnType<Storage['bucket']> {
  const storage = new Storage({ apiEndpoint: gcs.apiEndpoint, retryOptions: { autoRetry: false } });
  return storage.bucket(gcs.bucket);
}

let counter = 0;
/** A store on a fresh prefix of the shared bucket. */
async function freshStore(options: GcsStoreOptions = {}): Promise<{
  store: GcsObjectStore;
  uri: string;
  prefix: string;
  gcs: FakeGcs;
  cleanup(): Promise<void>;
}> {
  const gcs = await server();
  const prefix = `run-${runId}/store-${++counter}`;
  const uri = `gs://${gcs.bucket}/${prefix}`;
  const store = createGcsObjectStore(uri, { apiEndpoint: gcs.apiEndpoint, ...options });
  const cleanup = (): Promise<void> =>
    rawBucket(gcs).deleteFiles({ prefix: `${prefix}/`, force: true });
  return { store, uri, prefix, gcs, cleanup };
}

// Child processes reach fake-gcs-server through `openStore` and STORAGE_EMULATOR_HOST.
runModelStoreContract('gcs (fake-gcs-server)', async () => {
  const { store, cleanup, gcs } = await freshStore();
  return { store, cleanup, reopenEnv: gcs.env };
});

describe('GCS object store (fake-gcs-server)', () => {
  test('putIfAbsent: 20 writers (20 clients) race for one key, exactly one wins', async () => {
    const { uri, gcs, cleanup } = await freshStore();
    try {
      const stores = Array.from({ length: 20 }, () =>
        createGcsObjectStore(uri, { apiEndpoint: gcs.apiEndpoint }),
      );
      const results = await Promise.all(
        stores.map((s, i) => s.putIfAbsent('m/7/.claim', bytes(`writer-${i}`))),
      );
      assert.equal(results.filter((won) => won).length, 1, `winners: ${results.join(',')}`);
      const winner = results.indexOf(true);
      assert.equal(text(await stores[0]!.get('m/7/.claim')), `writer-${winner}`);
      // The loser's view is the same, and a later create still loses.
      assert.equal(await stores[5]!.putIfAbsent('m/7/.claim', bytes('late')), false);
      assert.equal(text(await stores[5]!.get('m/7/.claim')), `writer-${winner}`);
    } finally {
      await cleanup();
    }
  });

  test('put, get, getStream, stat, overwrite, delete; list gives direct children, relative and sorted', async () => {
    const { store, prefix, gcs, cleanup } = await freshStore();
    try {
      await store.put('m/2/model.json', bytes('{"a":1}'));
      await store.put('m/10/model.json', bytes('x'));
      await store.put('m/readme.txt', bytes('r'));
      await store.put('m/2/b.bin', new Uint8Array(0));
      await store.put('m/2/a.bin', bytes('aa'));
      assert.equal(text(await store.get('m/2/model.json')), '{"a":1}');
      assert.deepEqual(await store.stat('m/2/a.bin'), { size: 2 });
      assert.deepEqual(await store.stat('m/2/b.bin'), { size: 0 });
      assert.equal((await store.get('m/2/b.bin')).byteLength, 0);
      assert.equal(await store.stat('m/2'), undefined, 'a prefix is not an object');
      assert.equal(await store.stat('m/3/model.json'), undefined);
      await store.put('m/2/a.bin', bytes('three'));
      assert.equal(text(await store.get('m/2/a.bin')), 'three');

      assert.deepEqual(await store.list(''), { objects: [], prefixes: ['m/'] });
      assert.deepEqual(await store.list('m/'), {
        objects: ['readme.txt'],
        prefixes: ['10/', '2/'],
      });
      assert.deepEqual(await store.list('m/2/'), {
        objects: ['a.bin', 'b.bin', 'model.json'],
        prefixes: [],
      });
      assert.deepEqual(await store.list('nothing/'), { objects: [], prefixes: [] });
      const chunks: Buffer[] = [];
      for await (const chunk of await store.getStream('m/2/model.json'))
        chunks.push(chunk as Buffer);
      assert.equal(Buffer.concat(chunks).toString('utf8'), '{"a":1}');
      await rejectsWith(
        store.getStream('m/2/missing.bin'),
        'not_found',
        `${store.uri}/m/2/missing.bin`,
      );
      await rejectsWith(
        store.get('m/2/missing.bin'),
        'not_found',
        `reading ${store.uri}/m/2/missing.bin`,
      );

      await store.delete('m/2/a.bin');
      await store.delete('m/2/a.bin'); // missing: not an error
      assert.equal(await store.stat('m/2/a.bin'), undefined);
      assert.equal(
        (await rawBucket(gcs).file(`${prefix}/m/2/model.json`).getMetadata())[0].contentType,
        'application/json',
      );
    } finally {
      await cleanup();
    }
  });

  test('list hides names no key could reach (memory backend: it keeps such names verbatim)', async () => {
    // The filesystem backend maps names to paths, so `a//b` and `a/..` collapse there;
    // real GCS and the memory backend keep them, as other tools may write them.
    const memory = await startFakeGcs({ bucket: 'odd-names', backend: 'memory' });
    try {
      const raw = new Storage({
        apiEndpoint: memory.apiEndpoint,
        retryOptions: { autoRetry: false },
      }).bucket('odd-names');
      for (const name of [
        'p/m/ok.bin',
        'p/m/2/x',
        'p/m/',
        'p/m//odd',
        'p/m/../x',
        'p/m/..',
        'p/m/a\\b',
      ]) {
        await raw.file(name).save('x', { resumable: false });
      }
      const store = createGcsObjectStore('gs://odd-names/p', { apiEndpoint: memory.apiEndpoint });
      assert.deepEqual(await store.list('m/'), { objects: ['ok.bin'], prefixes: ['2/'] });
      assert.deepEqual(await store.list(''), { objects: [], prefixes: ['m/'] });
    } finally {
      await memory.stop();
    }
  });

  test('a body over resumableThreshold goes up in a resumable session and round-trips byte-exact', async () => {
    const gcs = await server();
    const proxy = await startRecordingProxy(gcs.apiEndpoint);
    const prefix = `run-${runId}/resumable`;
    try {
      const store = createGcsObjectStore(`gs://${gcs.bucket}/${prefix}`, {
        apiEndpoint: proxy.url,
        resumableThreshold: MiB,
      });
      const big = seededBytes('big', 5 * MiB + 123);
      await store.put('m/1/weights.bin', big);
      await store.put('m/1/small.bin', seededBytes('small', MiB)); // at the threshold: simple

      const uploads = proxy.requests.filter((r) => r.url.startsWith('/upload/'));
      const named = (file: string): typeof uploads =>
        uploads.filter((r) => r.url.includes(encodeURIComponent(`${prefix}/m/1/${file}`)));
      const bigStarts = named('weights.bin').filter(
        (r) => r.method === 'POST' && r.url.includes('uploadType=resumable'),
      );
      assert.equal(bigStarts.length, 1, JSON.stringify(uploads));
      const bigData = uploads.filter((r) => r.method === 'PUT' && r.url.includes('upload_id='));
      assert.equal(
        bigData.reduce((sum, r) => sum + r.bytes, 0),
        big.byteLength,
        'the bytes went in the session',
      );
      assert.deepEqual(
        named('small.bin').map((r) => [r.method, /uploadType=multipart/.test(r.url)]),
        [['POST', true]],
      );

      const back = await store.get('m/1/weights.bin');
      assert.ok(Buffer.from(back).equals(Buffer.from(big)), 'byte-exact');
      assert.deepEqual(await store.stat('m/1/weights.bin'), { size: big.byteLength });
      let streamed = 0;
      const hash = (await import('node:crypto')).createHash('sha256');
      for await (const chunk of await store.getStream('m/1/weights.bin')) {
        streamed += (chunk as Buffer).length;
        hash.update(chunk as Buffer);
      }
      assert.equal(streamed, big.byteLength);
      assert.equal(
        hash.digest('hex'),
        (await import('node:crypto')).createHash('sha256').update(big).digest('hex'),
      );
      // The precondition holds on the resumable path too.
      assert.equal(
        await store.putIfAbsent('m/1/weights.bin', seededBytes('other', 2 * MiB)),
        false,
      );
      assert.equal(await store.putIfAbsent('m/2/weights.bin', seededBytes('other', 2 * MiB)), true);
      assert.ok(Buffer.from(await store.get('m/1/weights.bin')).equals(Buffer.from(big)));
    } finally {
      await proxy.close();
      await rawBucket(gcs).deleteFiles({ prefix: `${prefix}/`, force: true });
    }
  });

  test('a lost answer: putIfAbsent retries and still knows it won; put does not replay', async () => {
    const gcs = await server();
    const lose = new Set(['claim', 'alias']);
    const proxy = await startRecordingProxy(gcs.apiEndpoint, ({ method, url }) => {
      for (const name of lose) {
        if (method === 'POST' && url.startsWith('/upload/') && url.includes(`lost-${name}`)) {
          lose.delete(name); // only the first attempt
          return 'lose-response';
        }
      }
      return 'forward';
    });
    const prefix = `run-${runId}/lost`;
    try {
      const store = createGcsObjectStore(`gs://${gcs.bucket}/${prefix}`, {
        apiEndpoint: proxy.url,
        ...FAST,
      });
      assert.equal(await store.putIfAbsent('m/1/lost-claim', bytes('mine')), true);
      const claimUploads = proxy.requests.filter(
        (r) => r.url.includes('lost-claim') && r.method === 'POST',
      );
      assert.equal(claimUploads.length, 2, 'the first answer was lost, the retry got 412');
      assert.equal(await store.putIfAbsent('m/1/lost-claim', bytes('again')), false);

      // An overwrite whose answer is lost is not replayed (it may have been applied).
      await rejectsWith(
        store.put('m/1/lost-alias', bytes('v')),
        'unavailable',
        `writing ${store.uri}/m/1/lost-alias`,
      );
      assert.equal(proxy.requests.filter((r) => r.url.includes('lost-alias')).length, 1);
      assert.equal(text(await store.get('m/1/lost-alias')), 'v', 'it was applied after all');
    } finally {
      await proxy.close();
      await rawBucket(gcs).deleteFiles({ prefix: `${prefix}/`, force: true });
    }
  });

  test('a stopped server: every operation fails with unavailable naming the URI and operation', async (t) => {
    const own = await startFakeGcs({ bucket: 'down' });
    const store = createGcsObjectStore('gs://down/p', { apiEndpoint: own.apiEndpoint, ...FAST });
    await store.put('m/1/model.json', bytes('{}'));
    await own.stop();
    const where = (operation: string, key: string): RegExp =>
      new RegExp(
        `^${operation} gs://down/p/${key.replace(/[.]/g, '\\.')}: cannot reach ${own.apiEndpoint}.*ECONNREFUSED`,
      );
    const started = Date.now();
    const message = await rejectsWith(
      store.get('m/1/model.json'),
      'unavailable',
      where('reading', 'm/1/model.json'),
    );
    assert.match(message, /after 3 attempts/);
    await rejectsWith(
      store.getStream('m/1/model.json'),
      'unavailable',
      where('reading', 'm/1/model.json'),
    );
    await rejectsWith(
      store.stat('m/1/model.json'),
      'unavailable',
      where('checking', 'm/1/model.json'),
    );
    await rejectsWith(
      store.put('m/1/w.bin', bytes('x')),
      'unavailable',
      where('writing', 'm/1/w.bin'),
    );
    await rejectsWith(
      store.putIfAbsent('m/2/.claim', bytes('x')),
      'unavailable',
      where('creating', 'm/2/.claim'),
    );
    await rejectsWith(store.list('m/'), 'unavailable', where('listing', 'm/'));
    await rejectsWith(store.delete('m/1/w.bin'), 'unavailable', where('deleting', 'm/1/w.bin'));
    t.diagnostic(`7 operations failed in ${Date.now() - started} ms with FAST retries`);

    // Default retry settings: still seconds, not minutes (reported, not asserted).
    const defaults = createGcsObjectStore('gs://down/p', { apiEndpoint: own.apiEndpoint });
    const before = Date.now();
    await rejectsWith(defaults.list(''), 'unavailable', 'after 4 attempts');
    t.diagnostic(`list with default retries gave up after ${Date.now() - before} ms`);

    // A models layer on top says the same.
    await rejectsWith(createModelStore(store).listModels(), 'unavailable', 'listing gs://down/p/');
  });

  test('a missing bucket: listing and writing are unavailable naming the bucket; reads find nothing', async () => {
    const gcs = await server();
    const store = createGcsObjectStore('gs://mscr-no-such-bucket/p', {
      apiEndpoint: gcs.apiEndpoint,
      ...FAST,
    });
    await rejectsWith(
      store.list(''),
      'unavailable',
      /^listing gs:\/\/mscr-no-such-bucket\/p\/: bucket mscr-no-such-bucket does not exist/,
    );
    await rejectsWith(
      store.put('m/1/x', bytes('x')),
      'unavailable',
      /^writing gs:\/\/mscr-no-such-bucket\/p\/m\/1\/x: bucket mscr-no-such-bucket does not exist/,
    );
    await rejectsWith(
      store.putIfAbsent('m/1/.claim', bytes('x')),
      'unavailable',
      'bucket mscr-no-such-bucket does not exist',
    );
    await rejectsWith(store.get('m/1/x'), 'not_found', 'reading gs://mscr-no-such-bucket/p/m/1/x');
    assert.equal(await store.stat('m/1/x'), undefined);
  });

  test('hostile keys are bad_request before any request; bad URIs and endpoints are config', async () => {
    const { store, cleanup } = await freshStore();
    try {
      for (const key of ['../x', '/etc/passwd', 'a//b', 'a/', '', '.', 'a\\b', 'a\0b']) {
        await rejectsWith(store.get(key), 'bad_request');
        await rejectsWith(store.getStream(key), 'bad_request');
        await rejectsWith(store.put(key, bytes('x')), 'bad_request');
        await rejectsWith(store.putIfAbsent(key, bytes('x')), 'bad_request');
      }
      assert.deepEqual(await store.list(''), { objects: [], prefixes: [] });
    } finally {
      await cleanup();
    }
    for (const uri of [
      'gs://',
      'gs:///x',
      's3://bucket',
      'gs://UPPER',
      'gs://ab',
      'gs://b-1/../x',
      'gs://b-1//x',
      'gs://b-1/p?x=1',
      'gs://-b1',
    ]) {
      assert.throws(
        () => createGcsObjectStore(uri),
        (e: unknown) => isMscrError(e, 'config'),
        uri,
      );
    }
    assert.throws(
      () => createGcsObjectStore('gs://b-1', { apiEndpoint: 'ftp://x' }),
      (e: unknown) => isMscrError(e, 'config'),
    );
    assert.throws(
      () => createGcsObjectStore('gs://b-1', { retries: -1 }),
      (e: unknown) => isMscrError(e, 'config'),
    );
    assert.deepEqual(parseGcsUri('GS://my.bucket_1/a/b/'), {
      bucket: 'my.bucket_1',
      prefix: 'a/b/',
      uri: 'gs://my.bucket_1/a/b',
    });
    assert.deepEqual(parseGcsUri('gs://bucket'), {
      bucket: 'bucket',
      prefix: '',
      uri: 'gs://bucket',
    });
  });

  test('STORAGE_EMULATOR_HOST alone reaches the emulator, with or without scheme and /storage/v1', async () => {
    const gcs = await server();
    const saved = process.env.STORAGE_EMULATOR_HOST;
    const hostPort = gcs.apiEndpoint.replace('http://', '');
    try {
      for (const value of [hostPort, `${gcs.apiEndpoint}/storage/v1/`]) {
        process.env.STORAGE_EMULATOR_HOST = value;
        const store = createGcsObjectStore(`gs://${gcs.bucket}/run-${runId}/env`, FAST);
        assert.equal(store.endpoint, gcs.apiEndpoint);
        await store.put('m/1/x.bin', bytes(value)); // upload API
        assert.equal(text(await store.get('m/1/x.bin')), value); // JSON API
        assert.deepEqual(await store.list('m/1/'), { objects: ['x.bin'], prefixes: [] });
      }
    } finally {
      if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = saved;
      await rawBucket(gcs).deleteFiles({ prefix: `run-${runId}/env/`, force: true });
    }
  });

  test('scrub removes credentials from messages', () => {
    const dirty = [
      'Authorization: Bearer ya29.a0AfH6SMBx-secret_token',
      '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEv\\n-----END PRIVATE KEY-----\\n", "client_email": "x@y"}',
      'request to https://storage.googleapis.com/upload/storage/v1/b/b/o?upload_id=ADPycdsecret&name=x failed',
      'https://user:pass@proxy.local/x?access_token=abc.def&X-Goog-Signature=0123abcd',
      '-----BEGIN RSA PRIVATE KEY----- MIIEpAIBAAKCAQEA',
    ].join(' | ');
    const clean = scrub(dirty);
    for (const secret of ['ya29', 'MIIE', 'ADPycd', 'user:pass', 'abc.def', '0123abcd']) {
      assert.ok(!clean.includes(secret), `${secret} in ${clean}`);
    }
    assert.match(clean, /name=x failed/);
  });
});
