/**
 * The model store contract: one test suite every `ObjectStore` adapter must pass under
 * `createModelStore`. The local adapter runs it in `model-store.test.ts`; the S3 and GCS
 * adapters run it against MinIO and fake-gcs-server with their own factory.
 *
 *     runModelStoreContract('s3', async () => ({ store, cleanup, reopenUri: 's3://bucket/run-1' }));
 *
 * Every test gets a fresh, empty store from the factory and cleans it up afterwards.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isMscrError } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';
import { MANIFEST_FILE, MANIFEST_SCHEMA_VERSION, validateManifest } from '../ms/manifest.ts';
import { sampleDraft, sampleFiles } from './contract-fixtures.ts';
import { CLAIM_FILE, createModelStore, sha256Hex } from './model-store.ts';
import type { ModelStore } from './model-store.ts';
import type { ObjectStore } from './object-store.ts';

export interface ObjectStoreFixture {
  store: ObjectStore;
  cleanup(): Promise<void>;
  /**
   * The URI `openStore` opens in a child process to reach this same store (default:
   * `store.uri`). `null` skips the multi-process test (for an adapter no child can open).
   */
  reopenUri?: string | null;
  /** Extra environment for that child process (endpoint and credentials of a test server). */
  reopenEnv?: Record<string, string>;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const workerPath = fileURLToPath(new URL('./contract-publish-worker.ts', import.meta.url));

const MODEL = 'cifar10-cnn';
const WEIGHTS = 'group1-shard1of1.bin';

/** Asserts that `promise` rejects with an `MscrError` of `code`; returns its message. */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode,
  messagePart?: string | RegExp,
): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isMscrError(error), `expected an MscrError(${code}), got ${String(error)}`);
    assert.equal(error.code, code, `expected code ${code}, got ${error.code}: ${error.message}`);
    if (typeof messagePart === 'string')
      assert.ok(error.message.includes(messagePart), error.message);
    else if (messagePart !== undefined) assert.match(error.message, messagePart);
    return error.message;
  }
  assert.fail(`expected MscrError(${code}), but the call succeeded`);
}

function textOf(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

interface Worker {
  ready: Promise<void>;
  go(): void;
  done: Promise<number[]>;
}

/** Starts a child process that publishes `count` versions once told to go. */
function startWorker(
  uri: string,
  model: string,
  count: number,
  env: Record<string, string> = {},
): Worker {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', workerPath, uri, model, String(count)],
    {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout });
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  let result: number[] | undefined;
  lines.on('line', (line) => {
    if (line === 'ready') onReady();
    else if (line.startsWith('{')) result = (JSON.parse(line) as { versions: number[] }).versions;
  });
  const done = new Promise<number[]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`publish worker exited with ${String(code)}: ${stderr}`));
    });
  });
  // A worker that dies before `ready` must not hang the test.
  void done.catch(() => onReady());
  return { ready, go: () => child.stdin.end('go\n'), done };
}

export function runModelStoreContract(
  name: string,
  makeObjectStore: () => Promise<ObjectStoreFixture>,
): void {
  /** Runs `body` with a fresh store and always cleans up. */
  async function withStore(
    body: (models: ModelStore, objects: ObjectStore, fixture: ObjectStoreFixture) => Promise<void>,
  ): Promise<void> {
    const fixture = await makeObjectStore();
    try {
      await body(createModelStore(fixture.store), fixture.store, fixture);
    } finally {
      await fixture.cleanup();
    }
  }

  /** Publishes `count` versions of MODEL one after another. */
  async function publishSome(models: ModelStore, count: number): Promise<void> {
    for (let i = 0; i < count; i++) await models.publish(sampleDraft(MODEL), sampleFiles(`v${i}`));
  }

  describe(`ModelStore contract: ${name}`, () => {
    describe('publishing', () => {
      test('the first publish is version 1, the next is version 2', async () => {
        await withStore(async (models) => {
          assert.deepEqual(await models.listModels(), []);
          assert.equal(await models.latestVersion(MODEL), undefined);
          const first = await models.publish(sampleDraft(MODEL), sampleFiles('a'));
          const second = await models.publish(sampleDraft(MODEL), sampleFiles('b'));
          assert.equal(first.version, 1);
          assert.equal(second.version, 2);
          assert.deepEqual(await models.listModels(), [MODEL]);
          assert.deepEqual(await models.listVersions(MODEL), [1, 2]);
          assert.equal(await models.latestVersion(MODEL), 2);
        });
      });

      test('the manifest records name, version, date and the sha256 and size of every file', async () => {
        await withStore(async (models, objects) => {
          const files = sampleFiles('content');
          const before = Date.now();
          const manifest = await models.publish(sampleDraft(MODEL), files);
          assert.equal(manifest.schemaVersion, MANIFEST_SCHEMA_VERSION);
          assert.equal(manifest.name, MODEL);
          assert.equal(manifest.version, 1);
          assert.ok(Date.parse(manifest.createdAt) >= before - 1000);
          assert.deepEqual(Object.keys(manifest.files).sort(), [...files.keys()].sort());
          for (const [file, body] of files) {
            assert.deepEqual(manifest.files[file], {
              sha256: sha256Hex(body),
              size: body.byteLength,
            });
          }
          assert.deepEqual(manifest.labels, sampleDraft(MODEL).labels);

          // What is stored is what was returned, and it validates on its own.
          const stored: unknown = JSON.parse(
            textOf(await objects.get(`${MODEL}/1/${MANIFEST_FILE}`)),
          );
          assert.deepEqual(validateManifest(stored), manifest);
          assert.deepEqual(await models.readManifest(MODEL, 1), manifest);

          const version = await models.readVersion(MODEL, 1);
          assert.deepEqual(version.manifest, manifest);
          assert.deepEqual([...version.files.keys()].sort(), [...files.keys()].sort());
          for (const [file, body] of files) {
            assert.deepEqual(Buffer.from(version.files.get(file) ?? []), Buffer.from(body));
            assert.deepEqual(Buffer.from(await models.readFile(MODEL, 1, file)), Buffer.from(body));
          }
          const statuses = await models.inspectVersions(MODEL, { verifyChecksums: true });
          assert.deepEqual(
            statuses.map((s) => [s.version, s.state]),
            [[1, 'ready']],
          );
        });
      });

      test('the store fills in version, files, createdAt and schemaVersion, ignoring caller values', async () => {
        await withStore(async (models) => {
          const draft = {
            ...sampleDraft(MODEL),
            version: 42,
            files: { 'x.bin': { sha256: '0'.repeat(64), size: 1 } },
            createdAt: 'yesterday',
            schemaVersion: 9,
          };
          const manifest = await models.publish(draft, sampleFiles('a'));
          assert.equal(manifest.version, 1);
          assert.equal(manifest.schemaVersion, MANIFEST_SCHEMA_VERSION);
          assert.ok(!Object.hasOwn(manifest.files, 'x.bin'));
          assert.ok(!Number.isNaN(Date.parse(manifest.createdAt)));
        });
      });

      test('a draft that does not validate is refused before a version is claimed', async () => {
        await withStore(async (models, objects) => {
          const { labels: _labels, ...noLabels } = sampleDraft(MODEL);
          await rejectsWith(models.publish(noLabels, sampleFiles('a')), 'bad_request', 'labels');
          await rejectsWith(
            models.publish(sampleDraft(MODEL), new Map()),
            'bad_request',
            'no files',
          );
          assert.deepEqual(await objects.list(''), { objects: [], prefixes: [] });
          assert.equal((await models.publish(sampleDraft(MODEL), sampleFiles('b'))).version, 1);
        });
      });

      test(
        'concurrent publishes from 8 processes and 20 promises all succeed with distinct versions',
        {
          timeout: 180_000,
        },
        async (t) => {
          const fixture = await makeObjectStore();
          try {
            const models = createModelStore(fixture.store);
            const uri = fixture.reopenUri === undefined ? fixture.store.uri : fixture.reopenUri;
            const perWorker = 3;
            const workers =
              uri === null
                ? []
                : Array.from({ length: 8 }, () =>
                    startWorker(uri, MODEL, perWorker, fixture.reopenEnv),
                  );
            if (uri === null)
              t.diagnostic('multi-process part skipped: the adapter cannot be reopened');
            await Promise.all(workers.map((w) => w.ready));
            for (const worker of workers) worker.go();
            const inProcess = Promise.all(
              Array.from({ length: 20 }, (_, i) =>
                models.publish(sampleDraft(MODEL), sampleFiles(`local-${i}`)),
              ),
            );
            const [fromWorkers, local] = await Promise.all([
              Promise.all(workers.map((w) => w.done)),
              inProcess,
            ]);
            const all = [...fromWorkers.flat(), ...local.map((m) => m.version)];
            const total = workers.length * perWorker + 20;
            assert.equal(all.length, total);
            assert.equal(new Set(all).size, total, `versions shared: ${all.join(',')}`);
            const expected = Array.from({ length: total }, (_, i) => i + 1);
            assert.deepEqual(
              [...all].sort((a, b) => a - b),
              expected,
            );
            assert.deepEqual(await models.listVersions(MODEL), expected);
            // Every version holds its own publisher's files.
            const statuses = await models.inspectVersions(MODEL, { verifyChecksums: true });
            assert.ok(statuses.every((s) => s.state === 'ready'));
            const models0 = new Set(statuses.map((s) => JSON.stringify(s.manifest?.files)));
            assert.equal(models0.size, total);
          } finally {
            await fixture.cleanup();
          }
        },
      );

      test('a version folder without manifest is invisible, reported incomplete, and its number is not reused', async () => {
        await withStore(async (models, objects) => {
          await publishSome(models, 1);
          // A publisher that claimed 2 and wrote a file, then stopped.
          await objects.put(`${MODEL}/2/${CLAIM_FILE}`, new TextEncoder().encode('{}'));
          await objects.put(`${MODEL}/2/model.json`, new TextEncoder().encode('{}'));
          assert.deepEqual(await models.listVersions(MODEL), [1]);
          assert.equal(await models.latestVersion(MODEL), 1);
          const statuses = await models.inspectVersions(MODEL);
          assert.deepEqual(
            statuses.map((s) => [s.version, s.state]),
            [
              [1, 'ready'],
              [2, 'incomplete'],
            ],
          );
          assert.match(statuses[1]?.problem ?? '', /manifest/);
          await rejectsWith(models.readManifest(MODEL, 2), 'not_found', 'not ready');
          await rejectsWith(models.readFile(MODEL, 2, 'model.json'), 'not_found');
          await rejectsWith(models.resolve(MODEL, 2), 'not_found');
          await rejectsWith(models.readManifest(MODEL, 7), 'not_found', 'does not exist');
          assert.equal((await models.publish(sampleDraft(MODEL), sampleFiles('c'))).version, 3);
          assert.equal(await models.resolve(MODEL, 'latest'), 3);
        });
      });
    });

    describe('integrity', () => {
      test('a flipped byte is invalid with verifyChecksums, and reads throw integrity', async () => {
        await withStore(async (models, objects) => {
          await publishSome(models, 1);
          const key = `${MODEL}/1/${WEIGHTS}`;
          const bytes = new Uint8Array(await objects.get(key));
          bytes[100] = (bytes[100] ?? 0) ^ 0xff;
          await objects.put(key, bytes);

          // Size still matches: ready for the cheap check, invalid for the full one.
          assert.deepEqual(await models.listVersions(MODEL), [1]);
          const [status] = await models.inspectVersions(MODEL, { verifyChecksums: true });
          assert.equal(status?.state, 'invalid');
          assert.match(status?.problem ?? '', new RegExp(`${WEIGHTS}.*sha256`));
          await rejectsWith(models.readFile(MODEL, 1, WEIGHTS), 'integrity', 'sha256');
          await rejectsWith(models.readVersion(MODEL, 1), 'integrity', WEIGHTS);
          // The untouched file still reads.
          assert.ok((await models.readFile(MODEL, 1, 'model.json')).byteLength > 0);
        });
      });

      test('a truncated or missing file makes the version invalid', async () => {
        await withStore(async (models, objects) => {
          await publishSome(models, 2);
          const truncated = await objects.get(`${MODEL}/1/${WEIGHTS}`);
          await objects.put(`${MODEL}/1/${WEIGHTS}`, truncated.subarray(0, 10));
          await objects.delete(`${MODEL}/2/model.json`);
          const statuses = await models.inspectVersions(MODEL);
          assert.deepEqual(
            statuses.map((s) => s.state),
            ['invalid', 'invalid'],
          );
          assert.match(statuses[0]?.problem ?? '', /10 bytes/);
          assert.match(statuses[1]?.problem ?? '', /model\.json.*missing/);
          assert.deepEqual(await models.listVersions(MODEL), []);
          assert.equal(await models.latestVersion(MODEL), undefined);
          await rejectsWith(models.readManifest(MODEL, 1), 'integrity');
          await rejectsWith(models.readVersion(MODEL, 2), 'integrity');
          await rejectsWith(models.resolve(MODEL, 'latest'), 'not_found');
          await rejectsWith(models.resolve(MODEL, 1), 'not_found');
        });
      });

      test('a manifest that is not JSON, does not validate, or names another version or model is invalid', async () => {
        await withStore(async (models, objects) => {
          await publishSome(models, 5);
          const good = JSON.parse(
            textOf(await objects.get(`${MODEL}/5/${MANIFEST_FILE}`)),
          ) as Record<string, unknown>;
          const write = (version: number, value: unknown): Promise<void> =>
            objects.put(
              `${MODEL}/${version}/${MANIFEST_FILE}`,
              new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value)),
            );
          await write(1, '{"schemaVersion": 1, "name": ');
          await write(2, { ...good, version: 2, inputs: [] });
          await write(3, { ...good }); // says version 5
          await write(4, { ...good, version: 4, name: 'other-model' });
          const statuses = await models.inspectVersions(MODEL);
          assert.deepEqual(
            statuses.map((s) => [s.version, s.state]),
            [
              [1, 'invalid'],
              [2, 'invalid'],
              [3, 'invalid'],
              [4, 'invalid'],
              [5, 'ready'],
            ],
          );
          assert.match(statuses[0]?.problem ?? '', /not JSON/);
          assert.match(statuses[1]?.problem ?? '', /inputs/);
          assert.match(statuses[2]?.problem ?? '', /version 5/);
          assert.match(statuses[3]?.problem ?? '', /other-model/);
          assert.deepEqual(await models.listVersions(MODEL), [5]);
          for (const version of [1, 2, 3, 4]) {
            await rejectsWith(models.readManifest(MODEL, version), 'integrity');
          }
        });
      });
    });

    describe('aliases', () => {
      test('set, get, list, rollback and delete', async () => {
        await withStore(async (models, objects) => {
          await publishSome(models, 2);
          assert.deepEqual(await models.setAlias(MODEL, 'stable', 1), {});
          assert.equal(await models.getAlias(MODEL, 'stable'), 1);
          assert.deepEqual(await models.setAlias(MODEL, 'stable', 2), { previous: 1 });
          assert.equal(await models.getAlias(MODEL, 'stable'), 2);
          const record = JSON.parse(textOf(await objects.get(`${MODEL}/aliases/stable.json`))) as {
            version: number;
            previous?: number;
            updatedAt: string;
          };
          assert.equal(record.version, 2);
          assert.equal(record.previous, 1);
          assert.ok(!Number.isNaN(Date.parse(record.updatedAt)));

          const published = await models.publish(sampleDraft(MODEL), sampleFiles('c'), {
            alias: 'canary',
          });
          assert.equal(published.version, 3);
          assert.deepEqual(await models.listAliases(MODEL), { canary: 3, stable: 2 });

          assert.deepEqual(await models.rollbackAlias(MODEL, 'stable'), { from: 2, to: 1 });
          assert.equal(await models.getAlias(MODEL, 'stable'), 1);
          // A second rollback undoes the first.
          assert.deepEqual(await models.rollbackAlias(MODEL, 'stable'), { from: 1, to: 2 });
          await rejectsWith(models.rollbackAlias(MODEL, 'canary'), 'conflict', 'no previous');
          await rejectsWith(models.rollbackAlias(MODEL, 'nope'), 'not_found');

          await models.deleteAlias(MODEL, 'canary');
          assert.equal(await models.getAlias(MODEL, 'canary'), undefined);
          assert.deepEqual(await models.listAliases(MODEL), { stable: 2 });
          await rejectsWith(models.deleteAlias(MODEL, 'canary'), 'not_found');
          // Aliases do not count as versions or models.
          assert.deepEqual(await models.listVersions(MODEL), [1, 2, 3]);
          assert.deepEqual(await models.listModels(), [MODEL]);
        });
      });

      test('an alias can only point at a ready version', async () => {
        await withStore(async (models, objects) => {
          await publishSome(models, 1);
          await rejectsWith(models.setAlias(MODEL, 'stable', 9), 'not_found');
          await objects.put(`${MODEL}/2/${CLAIM_FILE}`, new TextEncoder().encode('{}'));
          await rejectsWith(models.setAlias(MODEL, 'stable', 2), 'not_found');
          await rejectsWith(models.setAlias('unknown-model', 'stable', 1), 'not_found');
          assert.equal(await models.getAlias(MODEL, 'stable'), undefined);
          assert.deepEqual(await models.listAliases(MODEL), {});
          await rejectsWith(
            models.publish(sampleDraft(MODEL), sampleFiles('x'), { alias: 'Bad Alias' }),
            'bad_request',
          );
        });
      });

      test('alias names are checked', async () => {
        await withStore(async (models) => {
          await publishSome(models, 1);
          for (const alias of [
            '',
            'Stable',
            '1',
            '42',
            'latest',
            '../x',
            'a/b',
            '-x',
            'a'.repeat(33),
          ]) {
            await rejectsWith(models.setAlias(MODEL, alias, 1), 'bad_request');
            await rejectsWith(models.getAlias(MODEL, alias), 'bad_request');
          }
          for (const alias of ['a', 'canary', 'stable-2', `a${'b'.repeat(31)}`]) {
            await models.setAlias(MODEL, alias, 1);
          }
        });
      });

      test('resolve: a number, a number as text, latest, or an alias', async () => {
        await withStore(async (models) => {
          await publishSome(models, 3);
          await models.setAlias(MODEL, 'stable', 2);
          assert.equal(await models.resolve(MODEL, 'latest'), 3);
          assert.equal(await models.resolve(MODEL, 'stable'), 2);
          assert.equal(await models.resolve(MODEL, 3), 3);
          assert.equal(await models.resolve(MODEL, '1'), 1);
          await rejectsWith(models.resolve(MODEL, 4), 'not_found');
          await rejectsWith(models.resolve(MODEL, 'canary'), 'not_found');
          await rejectsWith(models.resolve('no-such-model', 'latest'), 'not_found');
          await rejectsWith(models.resolve(MODEL, '03'), 'bad_request');
          await rejectsWith(models.resolve(MODEL, 0), 'bad_request');
          await rejectsWith(models.resolve(MODEL, 1.5), 'bad_request');
          await rejectsWith(models.resolve(MODEL, '../1'), 'bad_request');
        });
      });

      test('deleteVersion is refused while an alias points at it', async () => {
        await withStore(async (models, objects) => {
          await publishSome(models, 2);
          await models.setAlias(MODEL, 'stable', 1);
          await rejectsWith(models.deleteVersion(MODEL, 1), 'conflict', 'stable');
          assert.deepEqual(await models.listVersions(MODEL), [1, 2]);
          await models.setAlias(MODEL, 'stable', 2);
          await models.deleteVersion(MODEL, 1);
          assert.deepEqual(await models.listVersions(MODEL), [2]);
          assert.deepEqual(
            await models.inspectVersions(MODEL).then((s) => s.map((x) => x.version)),
            [2],
          );
          assert.deepEqual(await objects.list(`${MODEL}/1/`), { objects: [], prefixes: [] });
          await rejectsWith(models.readManifest(MODEL, 1), 'not_found');
          await rejectsWith(models.deleteVersion(MODEL, 1), 'not_found');
          // The alias' rollback target is gone: rolling back is refused, nothing changes.
          await rejectsWith(models.rollbackAlias(MODEL, 'stable'), 'conflict');
          assert.equal(await models.getAlias(MODEL, 'stable'), 2);
          assert.equal((await models.publish(sampleDraft(MODEL), sampleFiles('n'))).version, 3);
        });
      });
    });

    describe('hostile input', () => {
      const hostile = ['../x', '/etc/passwd', 'a/b', '', '..', 'x/../../y', 'a\\b', 'UPPER'];

      test('hostile model names are refused with bad_request', async () => {
        await withStore(async (models, objects) => {
          await publishSome(models, 1);
          for (const model of hostile) {
            await rejectsWith(models.publish(sampleDraft(model), sampleFiles('h')), 'bad_request');
            await rejectsWith(models.listVersions(model), 'bad_request');
            await rejectsWith(models.inspectVersions(model), 'bad_request');
            await rejectsWith(models.latestVersion(model), 'bad_request');
            await rejectsWith(models.readManifest(model, 1), 'bad_request');
            await rejectsWith(models.readFile(model, 1, 'model.json'), 'bad_request');
            await rejectsWith(models.readVersion(model, 1), 'bad_request');
            await rejectsWith(models.deleteVersion(model, 1), 'bad_request');
            await rejectsWith(models.listAliases(model), 'bad_request');
            await rejectsWith(models.setAlias(model, 'stable', 1), 'bad_request');
            await rejectsWith(models.resolve(model, 'latest'), 'bad_request');
          }
          assert.deepEqual((await objects.list('')).prefixes, [`${MODEL}/`]);
        });
      });

      test('hostile file names are refused with bad_request and claim nothing', async () => {
        await withStore(async (models, objects) => {
          for (const file of [
            ...hostile.filter((f) => f !== 'UPPER'),
            MANIFEST_FILE,
            CLAIM_FILE,
            '.hidden',
          ]) {
            const files = sampleFiles('h');
            files.set(file, new Uint8Array([1, 2, 3]));
            await rejectsWith(
              models.publish(sampleDraft(MODEL), files),
              'bad_request',
              'file name',
            );
          }
          assert.deepEqual(await objects.list(''), { objects: [], prefixes: [] });
          await publishSome(models, 1);
          for (const file of ['../x', '/etc/passwd', 'a/b', '', MANIFEST_FILE, CLAIM_FILE]) {
            await rejectsWith(models.readFile(MODEL, 1, file), 'bad_request');
          }
          await rejectsWith(models.readFile(MODEL, 1, 'constructor'), 'not_found');
          await rejectsWith(models.readFile(MODEL, 1, 'other.bin'), 'not_found');
        });
      });

      test('hostile object keys are refused by the adapter with bad_request', async () => {
        await withStore(async (_models, objects) => {
          const body = new Uint8Array([1]);
          for (const key of [
            '../x',
            '/etc/passwd',
            'a/../../x',
            'a/../b',
            'a//b',
            'a/',
            '',
            '.',
            'a/./b',
            'a\\b',
            '..\\x',
            'a\0b',
          ]) {
            await rejectsWith(objects.get(key), 'bad_request');
            await rejectsWith(objects.stat(key), 'bad_request');
            await rejectsWith(objects.put(key, body), 'bad_request');
            await rejectsWith(objects.putIfAbsent(key, body), 'bad_request');
            await rejectsWith(objects.delete(key), 'bad_request');
          }
          for (const prefix of ['../', '/', '/etc/', 'a//', 'a', '..']) {
            await rejectsWith(objects.list(prefix), 'bad_request');
          }
          assert.deepEqual(await objects.list(''), { objects: [], prefixes: [] });
        });
      });

      test('bad versions are refused with bad_request', async () => {
        await withStore(async (models) => {
          await publishSome(models, 1);
          for (const version of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
            await rejectsWith(models.readManifest(MODEL, version), 'bad_request');
            await rejectsWith(models.deleteVersion(MODEL, version), 'bad_request');
            await rejectsWith(models.setAlias(MODEL, 'stable', version), 'bad_request');
          }
        });
      });
    });

    describe('listing', () => {
      test('listModels and listVersions ignore stray files and non-version folders', async () => {
        await withStore(async (models, objects) => {
          await publishSome(models, 2);
          const put = (key: string): Promise<void> =>
            objects.put(key, new TextEncoder().encode('x'));
          await put('README.md');
          await put('notes/readme.txt'); // a folder without versions
          await put('Bad_Name/1/model.json'); // not a valid model name
          await put('.hidden/1/model.json');
          await put(`${MODEL}/03/model.json`);
          await put(`${MODEL}/3.0/model.json`);
          await put(`${MODEL}/latest/model.json`);
          await put(`${MODEL}/0/model.json`);
          await put(`${MODEL}/README.md`);
          await put('only-incomplete/4/model.json');
          assert.deepEqual(await models.listModels(), [MODEL, 'only-incomplete']);
          assert.deepEqual(await models.listVersions(MODEL), [1, 2]);
          assert.deepEqual(
            (await models.inspectVersions(MODEL)).map((s) => s.version),
            [1, 2],
          );
          assert.deepEqual(await models.listVersions('only-incomplete'), []);
          assert.equal((await models.publish(sampleDraft(MODEL), sampleFiles('z'))).version, 3);
          assert.equal(
            (await models.publish(sampleDraft('only-incomplete'), sampleFiles('z'))).version,
            5,
          );
        });
      });

      test('versions sort numerically', async () => {
        await withStore(async (models) => {
          await publishSome(models, 11);
          assert.deepEqual(
            await models.listVersions(MODEL),
            Array.from({ length: 11 }, (_, i) => i + 1),
          );
          assert.equal(await models.latestVersion(MODEL), 11);
        });
      });
    });
  });
}
