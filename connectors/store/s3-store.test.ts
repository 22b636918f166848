// The S3 adapter against a real MinIO server: the model store contract, conditional writes,
// multipart uploads, S3-specific listing, and faults (server down or hung, bad credentials,
// missing bucket).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { isMscrError } from '../errors.ts';
import { seededBytes } from './contract-fixtures.ts';
import { rejectsWith, runModelStoreContract } from './contract.ts';
import { createModelStore } from './model-store.ts';
import { S3RequestError, createS3ObjectStore, parseS3Uri } from './s3-store.ts';
import type { S3ObjectStore, S3StoreOptions } from './s3-store.ts';
import { startMinio } from './testing/minio.ts';
import type { MinioServer } from './testing/minio.ts';

// One deprecation notice about Node 20 per process is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);
const MiB = 1024 * 1024;

let minio: MinioServer | undefined;
const stores: S3ObjectStore[] = [];

before(async () => {
  minio = await startMinio();
});
after(async () => {
  for (const store of stores) store.destroy();
  await minio?.stop();
});

function server(): MinioServer {
  assert.ok(minio !== undefined, 'MinIO did not start');
  return minio;
}

/** A fresh prefix in the shared bucket. */
function freshPrefix(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/** A store on a fresh prefix of the shared bucket, with the fixture's options plus `extra`. */
function freshStore(label: string, extra: S3StoreOptions = {}): S3ObjectStore {
  const s = server();
  const store = createS3ObjectStore(`s3://${s.bucket}/${freshPrefix(label)}`, {
    ...s.storeOptions,
    ...extra,
  });
  stores.push(store);
  return store;
}

describe('parseS3Uri', () => {
  test('bucket and optional prefix, normalised', () => {
    assert.deepEqual(parseS3Uri('s3://models'), {
      bucket: 'models',
      prefix: '',
      uri: 's3://models',
    });
    assert.deepEqual(parseS3Uri('s3://models/'), {
      bucket: 'models',
      prefix: '',
      uri: 's3://models',
    });
    assert.deepEqual(parseS3Uri('S3://models/team/prod/'), {
      bucket: 'models',
      prefix: 'team/prod/',
      uri: 's3://models/team/prod',
    });
  });

  test('anything else is a config error', () => {
    for (const uri of [
      'models',
      's3://',
      's3:///x',
      's3://a',
      's3://bad bucket/x',
      's3://b-1/../x',
      's3://b-1/a//b',
      's3://b-1/x?versionId=1',
      's3://b-1/x#frag',
      'gs://b-1/x',
    ]) {
      assert.throws(() => parseS3Uri(uri), { code: 'config' }, uri);
    }
    assert.throws(() => createS3ObjectStore('s3://b-1', { partSize: MiB }), {
      code: 'config',
      message: /partSize/,
    });
    assert.throws(() => createS3ObjectStore('s3://b-1', { endpoint: 'minio:9000' }), {
      code: 'config',
      message: /endpoint/,
    });
    assert.throws(
      () => createS3ObjectStore('s3://b-1', { endpoint: 'http://user:hunter22@minio:9000' }),
      (error: unknown) => isMscrError(error, 'config') && !error.message.includes('hunter22'),
    );
  });
});

const NOWHERE = path.join(os.tmpdir(), `mscr-no-aws-config-${randomBytes(4).toString('hex')}`);

runModelStoreContract('s3 (MinIO)', async () => {
  const s = server();
  const prefix = freshPrefix('contract');
  const store = createS3ObjectStore(`s3://${s.bucket}/${prefix}`, s.storeOptions);
  return {
    store,
    // The contract's publishing child processes open the store by URI through `openStore`,
    // configured by the AWS environment alone, as a pod with AWS_* env (or IRSA) would be:
    // a host name endpoint (with an IP the SDK picks path-style itself, so this checks the
    // store's own default), no region (falls back to us-east-1), no config or credential files.
    reopenEnv: {
      AWS_ACCESS_KEY_ID: s.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_S3: s.endpoint.replace('127.0.0.1', 'localhost'),
      AWS_REGION: '',
      AWS_ENDPOINT_URL: '',
      AWS_CONFIG_FILE: NOWHERE,
      AWS_SHARED_CREDENTIALS_FILE: NOWHERE,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    cleanup: async () => {
      store.destroy();
      await s.clear(`${prefix}/`);
    },
  };
});

describe('s3 object store (MinIO)', () => {
  test('put, get, stat, overwrite, delete; misses name the URI and operation', async () => {
    const store = freshStore('basic');
    await store.put('m/1/model.json', bytes('one'));
    assert.equal(text(await store.get('m/1/model.json')), 'one');
    assert.deepEqual(await store.stat('m/1/model.json'), { size: 3 });
    await store.put('m/1/model.json', bytes('three'));
    assert.equal(text(await store.get('m/1/model.json')), 'three');
    assert.equal(await store.stat('m/1/other'), undefined);
    assert.equal(await store.stat('m/1'), undefined, 'a prefix is not an object');
    await rejectsWith(
      store.get('m/1/missing.bin'),
      'not_found',
      `reading ${store.uri}/m/1/missing.bin: no such object`,
    );
    await rejectsWith(store.getStream('m/1/missing.bin'), 'not_found', 'reading');
    await store.delete('m/1/model.json');
    await store.delete('m/1/model.json'); // missing: not an error
    assert.equal(await store.stat('m/1/model.json'), undefined);
    assert.deepEqual(await store.list(''), { objects: [], prefixes: [] });
  });

  test('putIfAbsent: exactly one of 20 concurrent writers wins, and its body is stored', async () => {
    const store = freshStore('claim');
    const bodies = Array.from({ length: 20 }, (_, i) => bytes(`writer-${i}`));
    const results = await Promise.all(bodies.map((body) => store.putIfAbsent('m/7/.claim', body)));
    const winners = results.flatMap((won, i) => (won ? [i] : []));
    assert.equal(winners.length, 1, `winners: ${winners.join(',')}`);
    assert.equal(text(await store.get('m/7/.claim')), `writer-${winners[0] ?? -1}`);
    assert.equal(await store.putIfAbsent('m/7/.claim', bytes('late')), false);
    // Another store object (another process, as far as S3 can tell) loses too.
    const other = createS3ObjectStore(store.uri, server().storeOptions);
    stores.push(other);
    assert.equal(await other.putIfAbsent('m/7/.claim', bytes('other')), false);
    assert.equal(await other.putIfAbsent('m/8/.claim', bytes('other')), true);
  });

  test('a body over the multipart threshold goes up in parts and round-trips byte-exact', async () => {
    const store = freshStore('multipart', { multipartThreshold: 5 * MiB, partSize: 5 * MiB });
    const body = seededBytes('weights', 12 * MiB);
    await store.put('m/1/group1-shard1of1.bin', body);
    const head = await server().client.send(
      new HeadObjectCommand({
        Bucket: store.bucket,
        Key: `${store.prefix}m/1/group1-shard1of1.bin`,
      }),
    );
    assert.match(head.ETag ?? '', /-3"?$/, `a 3-part multipart ETag, got ${String(head.ETag)}`);
    assert.deepEqual(await store.stat('m/1/group1-shard1of1.bin'), { size: body.byteLength });
    assert.ok(Buffer.from(await store.get('m/1/group1-shard1of1.bin')).equals(body));

    const chunks: Buffer[] = [];
    for await (const chunk of await store.getStream('m/1/group1-shard1of1.bin')) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    }
    assert.ok(Buffer.concat(chunks).equals(body));

    // At or under the threshold: one PutObject (a plain MD5 ETag).
    await store.put('m/1/small.bin', body.subarray(0, 5 * MiB));
    const small = await server().client.send(
      new HeadObjectCommand({ Bucket: store.bucket, Key: `${store.prefix}m/1/small.bin` }),
    );
    assert.match(small.ETag ?? '', /^"?[0-9a-f]{32}"?$/);
  });

  test('list: direct children, relative, sorted, across pages; markers and unreachable names hidden', async () => {
    const store = freshStore('list', { listPageSize: 2 });
    for (const key of [
      'm/1/model.json',
      'm/1/w.bin',
      'm/2/model.json',
      'm/10/model.json',
      'm/aliases/stable.json',
      'm/README',
      'm/B',
      'm/a',
      'other/1/x',
    ]) {
      await store.put(key, bytes(key));
    }
    // What other S3 tools leave behind: console "folder" markers (zero-byte `name/` objects).
    // (MinIO refuses keys with `//`, which S3 allows and `list` would hide as well.)
    const marker = (key: string): Promise<unknown> =>
      server().client.send(
        new PutObjectCommand({
          Bucket: store.bucket,
          Key: `${store.prefix}${key}`,
          Body: new Uint8Array(0),
        }),
      );
    await marker('m/');
    await marker('m/empty-folder/');
    assert.deepEqual(await store.list(''), { objects: [], prefixes: ['m/', 'other/'] });
    assert.deepEqual(await store.list('m/'), {
      objects: ['B', 'README', 'a'],
      prefixes: ['1/', '10/', '2/', 'aliases/', 'empty-folder/'],
    });
    assert.deepEqual(await store.list('m/1/'), { objects: ['model.json', 'w.bin'], prefixes: [] });
    assert.deepEqual(await store.list('m/empty-folder/'), { objects: [], prefixes: [] });
    assert.deepEqual(await store.list('nothing/'), { objects: [], prefixes: [] });
    assert.deepEqual(await store.list('m/README/'), { objects: [], prefixes: [] });

    // A store whose prefix is a string prefix of another's sees only its own objects.
    const s = server();
    const sibling = createS3ObjectStore(`${store.uri}-sibling`, s.storeOptions);
    stores.push(sibling);
    await sibling.put('x', bytes('x'));
    assert.deepEqual(await store.list(''), { objects: [], prefixes: ['m/', 'other/'] });
    assert.deepEqual(await sibling.list(''), { objects: ['x'], prefixes: [] });
  });
});

describe('s3 object store faults', () => {
  test('a lost response is retried: a conditional write that landed still wins, a cut body is read again', async () => {
    const s = server();
    const proxy = await startFaultyProxy(s.endpoint);
    try {
      const store = createS3ObjectStore(`s3://${s.bucket}/${freshPrefix('flaky')}`, {
        ...s.storeOptions,
        endpoint: proxy.endpoint,
      });
      stores.push(store);
      // The server creates the claim, but its answer never arrives; the SDK's retry then gets
      // 412, and the store must recognise the object as its own.
      proxy.fault = { afterBytes: 0 };
      assert.equal(await store.putIfAbsent('m/1/.claim', bytes('mine')), true);
      assert.equal(proxy.fault, undefined, 'the fault was used');
      assert.equal(text(await store.get('m/1/.claim')), 'mine');
      assert.equal(await store.putIfAbsent('m/1/.claim', bytes('late')), false);

      // A body cut off half-way is fetched again, byte-exact.
      const body = seededBytes('cut', 2 * MiB);
      await store.put('m/1/w.bin', body);
      proxy.fault = { afterBytes: 256 * 1024 };
      assert.ok(Buffer.from(await store.get('m/1/w.bin')).equals(body));
      assert.equal(proxy.fault, undefined, 'the fault was used');
    } finally {
      await proxy.close();
    }
  });

  test('a hostile key is refused with bad_request before any request is made', async () => {
    // Nothing listens on this endpoint: a request would fail with unavailable instead.
    const store = createS3ObjectStore('s3://some-bucket/p', {
      ...server().storeOptions,
      endpoint: `http://127.0.0.1:${await closedPort()}`,
      maxAttempts: 1,
    });
    stores.push(store);
    for (const key of ['../x', '/etc/passwd', 'a//b', 'a\\b', 'a\0b', '']) {
      await rejectsWith(store.get(key), 'bad_request');
      await rejectsWith(store.getStream(key), 'bad_request');
      await rejectsWith(store.put(key, bytes('x')), 'bad_request');
      await rejectsWith(store.putIfAbsent(key, bytes('x')), 'bad_request');
    }
    await rejectsWith(store.list('../'), 'bad_request');
  });

  test('a stopped server is unavailable, naming the URI and operation, after bounded retries', async (t) => {
    const own = await startMinio();
    try {
      const uri = `s3://${own.bucket}/p`;
      const store = createS3ObjectStore(uri, { ...own.storeOptions, maxAttempts: 3 });
      stores.push(store);
      await store.put('m/1/model.json', bytes('{}')); // pooled keep-alive connections exist now
      assert.equal(text(await store.get('m/1/model.json')), '{}');
      await own.stop();

      const started = Date.now();
      const message = await rejectsWith(
        store.get('m/1/model.json'),
        'unavailable',
        `reading ${uri}/m/1/model.json: cannot reach the S3 endpoint after 3 attempts`,
      );
      t.diagnostic(`get failed after ${Date.now() - started} ms: ${message}`);
      await rejectsWith(
        store.stat('m/1/model.json'),
        'unavailable',
        `checking ${uri}/m/1/model.json`,
      );
      await rejectsWith(store.list('m/'), 'unavailable', `listing ${uri}/m/`);
      await rejectsWith(store.put('m/1/x', bytes('x')), 'unavailable', `writing ${uri}/m/1/x`);
      await rejectsWith(store.putIfAbsent('m/2/.claim', bytes('x')), 'unavailable', 'creating');
      await rejectsWith(store.delete('m/1/x'), 'unavailable', `deleting ${uri}/m/1/x`);
      const models = createModelStore(store);
      await rejectsWith(models.listModels(), 'unavailable', uri);
      t.diagnostic(`seven failed calls took ${Date.now() - started} ms`);
    } finally {
      await own.stop();
    }
  });

  test('a server that accepts but never answers times out as unavailable', async (t) => {
    const sockets = new Set<net.Socket>();
    const hung = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.resume(); // read the request, never answer
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const address = hung.address();
    assert.ok(typeof address === 'object' && address !== null);
    try {
      const store = createS3ObjectStore('s3://some-bucket', {
        ...server().storeOptions,
        endpoint: `http://127.0.0.1:${address.port}`,
        socketTimeout: 300,
        maxAttempts: 2,
      });
      stores.push(store);
      const started = Date.now();
      await rejectsWith(
        store.list(''),
        'unavailable',
        'listing s3://some-bucket: the S3 endpoint did not answer in time after 2 attempts',
      );
      t.diagnostic(`failed after ${Date.now() - started} ms`);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => hung.close(() => resolve()));
    }
  });

  test('wrong credentials are a config error that shows neither the secret nor a signature', async () => {
    const s = server();
    const secret = `not-the-secret-${randomBytes(8).toString('hex')}`;
    const wrongSecret = createS3ObjectStore(`s3://${s.bucket}/p`, {
      ...s.storeOptions,
      credentials: { accessKeyId: s.credentials.accessKeyId, secretAccessKey: secret },
    });
    const unknownKey = createS3ObjectStore(`s3://${s.bucket}/p`, {
      ...s.storeOptions,
      credentials: { accessKeyId: 'nobody-here', secretAccessKey: secret },
    });
    stores.push(wrongSecret, unknownKey);
    const failures: unknown[] = [];
    const capture = async (promise: Promise<unknown>): Promise<void> => {
      try {
        await promise;
        assert.fail('expected a failure');
      } catch (error) {
        failures.push(error);
      }
    };
    await capture(wrongSecret.get('m/1/model.json'));
    await capture(wrongSecret.stat('m/1/model.json'));
    await capture(wrongSecret.list(''));
    await capture(wrongSecret.put('m/1/model.json', bytes('x')));
    await capture(unknownKey.list(''));
    for (const error of failures) {
      assert.ok(isMscrError(error, 'config'), String(error));
      assert.match(error.message, new RegExp(`^\\w+ s3://${s.bucket}/p`));
      assert.ok(error.cause instanceof S3RequestError);
      const everything = inspect(error, { depth: 10, showHidden: true });
      assert.ok(!everything.includes(secret), everything);
      assert.ok(!everything.includes(s.credentials.secretAccessKey), everything);
      assert.ok(!/Signature=|X-Amz-Signature|AWS4-HMAC/i.test(everything), everything);
    }
    const [get, stat, , , unknown] = failures.map((e) => (e instanceof Error ? e.message : ''));
    assert.match(
      get ?? '',
      /reading .*: the request signature does not match \(403 SignatureDoesNotMatch\): check the secret access key/,
    );
    assert.match(stat ?? '', /checking .*\(403/);
    assert.match(unknown ?? '', /access key id is not known.*\(403 InvalidAccessKeyId\)/);
  });

  test('credentials that cannot be found are a config error', async () => {
    const store = createS3ObjectStore(`s3://${server().bucket}/p`, {
      ...server().storeOptions,
      credentials: async () => {
        throw Object.assign(new Error('Could not load credentials from any providers'), {
          name: 'CredentialsProviderError',
        });
      },
    });
    stores.push(store);
    await rejectsWith(store.list(''), 'config', 'no AWS credentials found');
  });

  test('a missing bucket is unavailable and names the bucket', async () => {
    const store = createS3ObjectStore('s3://no-such-bucket-here/p', server().storeOptions);
    stores.push(store);
    const missing = 'the bucket no-such-bucket-here does not exist';
    await rejectsWith(
      store.list(''),
      'unavailable',
      `listing s3://no-such-bucket-here/p: ${missing}`,
    );
    await rejectsWith(store.get('m/1/model.json'), 'unavailable', missing);
    await rejectsWith(store.put('m/1/model.json', bytes('x')), 'unavailable', missing);
    await rejectsWith(store.putIfAbsent('m/1/.claim', bytes('x')), 'unavailable', missing);
    // HEAD responses have no body; MinIO names the error in a header (S3 does not).
    await rejectsWith(store.stat('m/1/model.json'), 'unavailable', missing);
    await rejectsWith(createModelStore(store).listModels(), 'unavailable', missing);
  });
});

interface FaultyProxy {
  endpoint: string;
  /** The next response from the server is cut after this many bytes (then cleared). */
  fault: { afterBytes: number } | undefined;
  close(): Promise<void>;
}

/** A TCP proxy to `target` that can cut one response short, as a failing network would. */
async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const upstreamPort = Number(new URL(target).port);
  const sockets = new Set<net.Socket>();
  const proxy: FaultyProxy = { endpoint: '', fault: undefined, close: async () => undefined };
  const tcp = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    let fault: { afterBytes: number } | undefined;
    let sent = 0;
    upstream.on('data', (chunk: Buffer) => {
      if (fault === undefined && proxy.fault !== undefined) {
        fault = proxy.fault;
        proxy.fault = undefined;
        sent = 0;
      }
      if (fault === undefined) {
        client.write(chunk);
        return;
      }
      const room = fault.afterBytes - sent;
      if (room > 0) client.write(chunk.subarray(0, room));
      sent += Math.min(room, chunk.length);
      if (sent >= fault.afterBytes) {
        client.destroy();
        upstream.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const address = tcp.address();
  assert.ok(typeof address === 'object' && address !== null);
  proxy.endpoint = `http://127.0.0.1:${address.port}`;
  proxy.close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  };
  return proxy;
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  assert.ok(typeof address === 'object' && address !== null);
  return address.port;
}
