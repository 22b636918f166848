// The feedback store on real object stores: a local folder, MinIO (S3) and fake-gcs-server
// (GCS). Layout, ordering, the `since` filter skipping whole days, hostile ids, input-first
// writes, integrity checks, and that feedback never disturbs the model versions beside it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { MscrError } from '../errors.ts';
import { rejectsWith } from '../store/contract.ts';
import { sampleDraft, sampleFiles } from '../store/contract-fixtures.ts';
import { createLocalObjectStore } from '../store/local-store.ts';
import { createModelStore } from '../store/model-store.ts';
import type { ObjectStore } from '../store/object-store.ts';
import { startFakeGcs, type FakeGcs } from '../store/testing/fake-gcs.ts';
import { startMinio, type MinioServer } from '../store/testing/minio.ts';
import { createFeedbackStore, isFeedbackId } from './feedback-store.ts';
import type { FeedbackInput, FeedbackRecord } from './index.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

function record(id: string, receivedAt: string, extra: Partial<FeedbackRecord> = {}) {
  return { id, model: 'cifar', receivedAt, label: 'cat', labelIndex: 0, ...extra };
}

/** Forwards to a real store and notes every key read; `failRecordWrites` fails `<id>.json` creates. */
function watched(real: ObjectStore) {
  const reads: string[] = [];
  const state = { failRecordWrites: false };
  const objects: ObjectStore = {
    uri: real.uri,
    get: (key) => (reads.push(key), real.get(key)),
    stat: (key) => real.stat(key),
    put: (key, body) => real.put(key, body),
    putIfAbsent: (key, body) => {
      if (state.failRecordWrites && /\/[\w-]+\.json$/.test(key))
        return Promise.reject(new MscrError('unavailable', 'store outage (injected)'));
      return real.putIfAbsent(key, body);
    },
    list: (prefix) => real.list(prefix),
    delete: (key) => real.delete(key),
  };
  return { objects, reads, state };
}

/** Every object under a prefix, recursively, as keys relative to it. */
async function allKeys(objects: ObjectStore, prefix = ''): Promise<string[]> {
  const listed = await objects.list(prefix);
  const nested = await Promise.all(listed.prefixes.map((p) => allKeys(objects, prefix + p)));
  return [...listed.objects.map((o) => prefix + o), ...nested.flat()].sort();
}

function contract(name: string, open: () => Promise<ObjectStore>): void {
  describe(`feedback store on ${name}`, () => {
    test('records and inputs of every kind, stored beside each other and listed oldest first', async () => {
      const { objects } = watched(await open());
      const store = createFeedbackStore(objects);
      const inputs: (FeedbackInput | undefined)[] = [
        { kind: 'image', bytes: PNG, extension: 'png' },
        { kind: 'tensor', shape: [2, 2], data: [0, 0.5, 1, -1] },
        { kind: 'csv', text: 'Open,Close\n1,2\n' },
        undefined,
      ];
      const times = [
        '2025-03-02T10:00:00.000Z',
        '2025-03-01T23:59:59.000Z',
        '2025-03-02T09:00:00.000Z',
        '2025-03-03T00:00:00.000Z',
      ];
      for (const [i, input] of inputs.entries())
        await store.append(record(`id-${i}`, times[i] as string), input);

      assert.deepEqual(await allKeys(objects, 'cifar/feedback/'), [
        'cifar/feedback/2025-03-01/id-1.json',
        'cifar/feedback/2025-03-01/id-1.tensor.json',
        'cifar/feedback/2025-03-02/id-0.json',
        'cifar/feedback/2025-03-02/id-0.png',
        'cifar/feedback/2025-03-02/id-2.csv',
        'cifar/feedback/2025-03-02/id-2.json',
        'cifar/feedback/2025-03-03/id-3.json',
      ]);
      const listed = await store.list('cifar');
      assert.deepEqual(
        listed.map((r) => r.id),
        ['id-1', 'id-2', 'id-0', 'id-3'],
      );
      const png = listed.find((r) => r.id === 'id-0') as FeedbackRecord;
      assert.equal(png.inputFile, 'id-0.png');
      assert.match(png.inputSha256 ?? '', /^[0-9a-f]{64}$/);
      assert.equal(png.label, 'cat');
      const read = await store.readInput(png);
      assert.equal(read?.kind, 'image');
      assert.deepEqual(Buffer.from((read as { bytes: Uint8Array }).bytes), PNG);
      assert.deepEqual(await store.readInput(listed[0] as FeedbackRecord), inputs[1]);
      assert.deepEqual(await store.readInput(listed[1] as FeedbackRecord), inputs[2]);
      assert.equal(await store.readInput(listed[3] as FeedbackRecord), undefined);
      assert.deepEqual(await store.list('no-feedback-here'), []);
    });

    test('since skips whole older days without reading them, and filters within its day', async () => {
      const { objects, reads } = watched(await open());
      const store = createFeedbackStore(objects);
      await store.append(record('old', '2025-01-01T12:00:00Z'));
      await store.append(record('early', '2025-01-05T08:00:00Z'));
      await store.append(record('late', '2025-01-05T18:00:00Z'));
      await store.append(record('next', '2025-01-06T01:00:00Z'));
      reads.length = 0;
      const since = await store.list('cifar', { since: '2025-01-05T12:00:00Z' });
      assert.deepEqual(
        since.map((r) => r.id),
        ['late', 'next'],
      );
      assert.ok(
        reads.every((key) => !key.includes('2025-01-01')),
        `read an older day: ${reads.join(', ')}`,
      );
      await rejectsWith(store.list('cifar', { since: 'yesterday' }), 'bad_request', 'ISO 8601');
    });

    test('hostile ids and model names are refused before anything is written', async () => {
      const { objects } = watched(await open());
      const store = createFeedbackStore(objects);
      for (const id of [
        '../x',
        'a/b',
        '.hidden',
        'x.json',
        '',
        '__proto__/x',
        'a\\b',
        'a'.repeat(200),
      ]) {
        assert.equal(isFeedbackId(id), false, id);
        await rejectsWith(store.append(record(id, '2025-01-01T00:00:00Z')), 'bad_request');
      }
      await rejectsWith(
        store.append({ ...record('ok', '2025-01-01T00:00:00Z'), model: '../etc' }),
        'bad_request',
        'invalid model name',
      );
      await rejectsWith(store.append(record('ok', 'not a date')), 'bad_request', 'receivedAt');
      await rejectsWith(
        store.append(record('ok', '2025-01-01T00:00:00Z'), {
          kind: 'tensor',
          shape: [2],
          data: [1, Number.NaN],
        }),
        'bad_request',
        'finite',
      );
      assert.deepEqual(await allKeys(objects), []);
      await rejectsWith(
        store.readInput({ ...record('ok', '2025-01-01T00:00:00Z'), inputFile: '../../x.png' }),
        'integrity',
        'invalid input file',
      );
    });

    test('an id is written once: a second append of it is a conflict and changes nothing', async () => {
      const { objects } = watched(await open());
      const store = createFeedbackStore(objects);
      const input: FeedbackInput = { kind: 'csv', text: 'a\n1\n' };
      await store.append(record('dup', '2025-02-01T00:00:00Z'), input);
      await rejectsWith(
        store.append(record('dup', '2025-02-01T00:00:00Z', { label: 'dog' }), {
          kind: 'csv',
          text: 'b\n2\n',
        }),
        'conflict',
      );
      await rejectsWith(store.append(record('dup', '2025-02-01T00:00:00Z')), 'conflict');
      const [only] = await store.list('cifar');
      assert.equal(only?.label, 'cat');
      assert.deepEqual(await store.readInput(only as FeedbackRecord), input);
    });

    test('a record that cannot be written leaves nothing behind', async () => {
      const { objects, state } = watched(await open());
      const store = createFeedbackStore(objects);
      state.failRecordWrites = true;
      await rejectsWith(
        store.append(record('lost', '2025-02-01T00:00:00Z'), {
          kind: 'image',
          bytes: PNG,
          extension: 'png',
        }),
        'unavailable',
      );
      assert.deepEqual(await allKeys(objects), []);
      assert.deepEqual(await store.list('cifar'), []);
    });

    test('a tampered input or record is an integrity error naming it', async () => {
      const { objects } = watched(await open());
      const store = createFeedbackStore(objects);
      await store.append(record('t1', '2025-02-01T00:00:00Z'), {
        kind: 'tensor',
        shape: [1],
        data: [1],
      });
      const [stored] = await store.list('cifar');
      await objects.put(
        'cifar/feedback/2025-02-01/t1.tensor.json',
        Buffer.from('{"shape":[1],"data":[2]}'),
      );
      await rejectsWith(store.readInput(stored as FeedbackRecord), 'integrity', 'sha256');
      await objects.put('cifar/feedback/2025-02-01/t2.json', Buffer.from('{"id":"t2"'));
      await rejectsWith(store.list('cifar'), 'integrity', 't2.json');
      await objects.put(
        'cifar/feedback/2025-02-01/t2.json',
        Buffer.from(JSON.stringify({ id: 'other', model: 'cifar', receivedAt: 'x' })),
      );
      await rejectsWith(store.list('cifar'), 'integrity', /id must be "t2".*receivedAt/);
    });

    test('feedback beside a model changes none of its versions, and alone makes no model', async () => {
      const { objects } = watched(await open());
      const models = createModelStore(objects);
      await models.publish(sampleDraft('cifar'), sampleFiles('v1'));
      const before = {
        models: await models.listModels(),
        versions: await models.listVersions('cifar'),
        inspected: await models.inspectVersions('cifar'),
        latest: await models.latestVersion('cifar'),
      };
      const store = createFeedbackStore(objects);
      await store.append(record('f1', new Date().toISOString()), {
        kind: 'image',
        bytes: PNG,
        extension: 'png',
      });
      await store.append({ ...record('f2', new Date().toISOString()), model: 'only-feedback' });
      assert.deepEqual(before.models, ['cifar']);
      assert.deepEqual(before.versions, [1]);
      const fresh = createModelStore(objects);
      assert.deepEqual(await fresh.listModels(), before.models);
      assert.deepEqual(await fresh.listVersions('cifar'), before.versions);
      assert.deepEqual(await fresh.inspectVersions('cifar'), before.inspected);
      assert.equal(await fresh.latestVersion('cifar'), before.latest);
      const next = await fresh.publish(sampleDraft('cifar'), sampleFiles('v2'));
      assert.equal(next.version, 2);
      assert.equal((await store.list('cifar')).length, 1);
    });
  });
}

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((dir) => fs.rm(dir, { recursive: true, force: true })));
});

contract('a local folder', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mscr-feedback-'));
  temps.push(dir);
  return createLocalObjectStore(dir);
});

let minio: Promise<MinioServer> | undefined;
let gcs: Promise<FakeGcs> | undefined;
const destroy: (() => void)[] = [];
after(async () => {
  for (const d of destroy) d();
  await Promise.all([minio?.then((m) => m.stop()), gcs?.then((g) => g.stop())]);
});

contract('MinIO (S3)', async () => {
  const server = await (minio ??= startMinio());
  const { createS3ObjectStore } = await import('../store/s3-store.ts');
  const store = createS3ObjectStore(
    `s3://${server.bucket}/feedback-${randomBytes(4).toString('hex')}`,
    server.storeOptions,
  );
  destroy.push(() => store.destroy());
  return store;
});

contract('fake-gcs-server (GCS)', async () => {
  const server = await (gcs ??= startFakeGcs());
  const { createGcsObjectStore } = await import('../store/gcs-store.ts');
  return createGcsObjectStore(`gs://${server.bucket}/feedback-${randomBytes(4).toString('hex')}`, {
    apiEndpoint: server.apiEndpoint,
  });
});
