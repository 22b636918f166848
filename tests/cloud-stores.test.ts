/**
 * The whole path on object storage, once on S3 (a real MinIO) and once on GCS (a real
 * fake-gcs-server): `mscr train --store s3://...` publishes, `mscr models` shows it, the
 * Service serves it, reloads a new version under load with no failed request, refuses a
 * corrupted upload while the current version keeps serving, keeps what it downloaded in its
 * content cache, and `mscr models gc` removes what a crashed publisher left.
 *
 * The CLI runs as a child process configured only by the SDKs' environment variables, as in
 * a pod; the Service runs in this process with the same variables set.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MANIFEST_FILE } from '../connectors/ms/manifest.ts';
import { downloadData } from '../connectors/store/download.ts';
import { openObjectStore, openStore } from '../connectors/store/index.ts';
import { startFakeGcs } from '../connectors/store/testing/fake-gcs.ts';
import { startMinio } from '../connectors/store/testing/minio.ts';
import type { Service } from '../service/server.ts';
import {
  checkReloadUnderLoad,
  postJson,
  publishToyClassifier,
  startService,
  toyInfer,
  waitUntil,
} from '../service/test-support.ts';
import { runMscr, type MscrRun } from './run-mscr.ts';
import { sharedData } from './shared-data.ts';

const mscr = (args: string[], env: Record<string, string>): Promise<MscrRun> =>
  runMscr(args, { env });

interface CloudServer {
  /** A store URI on a fresh prefix. */
  uri: string;
  /** The SDK environment that reaches the server. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

const servers: Record<string, () => Promise<CloudServer>> = {
  's3 (MinIO)': async () => {
    const minio = await startMinio();
    return {
      uri: `s3://${minio.bucket}/e2e`,
      env: { ...minio.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stop: () => minio.stop(),
    };
  },
  'gcs (fake-gcs-server)': async () => {
    const gcs = await startFakeGcs();
    return { uri: `gs://${gcs.bucket}/e2e`, env: gcs.env, stop: () => gcs.stop() };
  },
};

for (const [name, startServer] of Object.entries(servers)) {
  describe(`end to end on ${name}`, { timeout: 600_000 }, () => {
    let server: CloudServer;
    let cacheDir: string;
    let service: Service | undefined;
    let url: string;
    const saved: Record<string, string | undefined> = {};

    before(async () => {
      server = await startServer();
      // The in-process Service reads the same variables the CLI children get.
      for (const [key, value] of Object.entries(server.env)) {
        saved[key] = process.env[key];
        process.env[key] = value;
      }
      cacheDir = await mkdtemp(join(tmpdir(), 'mscr-cache-e2e-'));
    });
    after(async () => {
      await service?.stop();
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      await server.stop();
      await rm(cacheDir, { recursive: true, force: true });
    });

    test('mscr train --store publishes to the bucket and mscr models list shows it', async () => {
      // The training data is in the bucket too: the CLI copies it down through the adapter.
      const bucketRoot = server.uri.slice(0, server.uri.lastIndexOf('/'));
      await openObjectStore(bucketRoot).put(
        'data/goog_daily.csv',
        await readFile(sharedData('stock/goog_daily.csv')),
      );
      const train = await mscr(
        [
          'train',
          '--model',
          'prices',
          '--arch',
          'linear',
          '--data',
          `${bucketRoot}/data/goog_daily.csv`,
          '--epochs',
          '2',
          '--store',
          server.uri,
          '--quiet',
        ],
        server.env,
      );
      assert.equal(train.code, 0, train.stderr);
      assert.match(train.stdout, /published prices version 1/);
      const list = await mscr(['models', 'list', '--store', server.uri, '--json'], server.env);
      assert.equal(list.code, 0, list.stderr);
      const rows = JSON.parse(list.stdout) as { model: string; versions: number[] }[];
      assert.deepEqual(rows, [
        { model: 'prices', versions: [1], latest: 1, aliases: {}, notReady: [] },
      ]);
    });

    test('a data folder in the bucket is copied down in its layout; a missing one is not_found', async () => {
      const bucketRoot = server.uri.slice(0, server.uri.lastIndexOf('/'));
      const objects = openObjectStore(bucketRoot);
      await objects.put(
        'data/set/labels.csv',
        new TextEncoder().encode('filename,label_index,label_name\n'),
      );
      await objects.put('data/set/images/a.jpg', new Uint8Array([1, 2, 3]));
      const local = await downloadData(`${bucketRoot}/data/set`, cacheDir);
      assert.deepEqual((await readdir(local, { recursive: true })).sort(), [
        'images',
        'images/a.jpg',
        'labels.csv',
      ]);
      await assert.rejects(downloadData(`${bucketRoot}/data/nothing`, cacheDir), {
        code: 'not_found',
      });
    });

    test('the Service serves the trained model and keeps its files in the content cache', async () => {
      await publishToyClassifier(openStore(server.uri), 'toy', 0);
      ({ service, url } = await startService(server.uri, { cacheDir, models: 'prices,toy' }));
      await waitUntil(
        async () =>
          (await fetch(`${url}/v2/models/prices/ready`)).status === 200 &&
          (await fetch(`${url}/v2/models/toy/ready`)).status === 200,
        'both models ready',
        60_000,
      );
      const metadata = (await (await fetch(`${url}/v2/models/prices`)).json()) as {
        inputs: { name: string; shape: number[] }[];
      };
      const input = metadata.inputs[0];
      assert.ok(input);
      const shape = input.shape.map((dim) => (dim === -1 ? 1 : dim));
      const size = shape.reduce((a, b) => a * b, 1);
      const forecast = await postJson(`${url}/v2/models/prices/infer`, {
        inputs: [{ name: input.name, shape, datatype: 'FP32', data: new Array(size).fill(0.5) }],
      });
      assert.equal(forecast.status, 200, JSON.stringify(forecast.json));
      assert.equal(forecast.json.model_version, '1');
      // Every file of both models, by checksum: a restart would read them from here.
      const cached = await readdir(join(cacheDir, 'sha256'));
      assert.ok(cached.filter((f) => /^[0-9a-f]{64}$/.test(f)).length >= 4, cached.join(' '));
    });

    test('a new version published under load: no failed request, and the switch happens', async () => {
      await checkReloadUnderLoad(
        url,
        'toy',
        () => publishToyClassifier(openStore(server.uri), 'toy', 1),
        '2',
      );
    });

    test('a corrupted upload is refused and the current version keeps serving', async () => {
      // A version written by hand as a broken uploader would: files, then the manifest, with
      // one byte of the weights flipped after their checksum was taken. Its weights differ
      // from every served version's (margin 3), so the content cache cannot supply them.
      const objects = openObjectStore(server.uri);
      const staged = await publishToyClassifier(openStore(server.uri), 'staging', 1, 3);
      const manifest = { ...staged, name: 'toy', version: 3 };
      await objects.put('toy/3/.claim', new TextEncoder().encode('{}'));
      for (const file of Object.keys(staged.files)) {
        const bytes = await objects.get(`staging/${staged.version}/${file}`);
        if (file.endsWith('.bin')) bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 1;
        await objects.put(`toy/3/${file}`, bytes);
      }
      await objects.put(
        `toy/3/${MANIFEST_FILE}`,
        new TextEncoder().encode(JSON.stringify(manifest)),
      );
      const served: string[] = [];
      await waitUntil(
        async () => {
          const response = await postJson(`${url}/v2/models/toy/infer`, toyInfer());
          assert.equal(response.status, 200);
          served.push(String(response.json.model_version));
          return service!.manager
            .status('toy')
            .versions.some((v) => v.version === 3 && v.state === 'FAILED');
        },
        'version 3 to fail',
        60_000,
      );
      assert.ok(
        served.every((v) => v === '2'),
        `served ${served.join(',')}`,
      );
      const status = (await (await fetch(`${url}/v1/models/toy`)).json()) as {
        model_version_status: { version: string; status: { error_message: string } }[];
      };
      const failed = status.model_version_status.find((s) => s.version === '3');
      assert.match(failed?.status.error_message ?? '', /sha256/);
    });

    test('mscr models gc removes a version a crashed publisher left, and only that', async () => {
      const objects = openObjectStore(server.uri);
      const claim = (at: Date) => new TextEncoder().encode(JSON.stringify({ claimedAt: at }));
      // Version 4: claimed two hours ago, weights written, no manifest (the crash).
      await objects.put('toy/4/.claim', claim(new Date(Date.now() - 2 * 3_600_000)));
      await objects.put('toy/4/weights.bin', new Uint8Array(1024));
      // Version 5: claimed a moment ago, still uploading.
      await objects.put('toy/5/.claim', claim(new Date()));

      const dry = await mscr(
        ['models', 'gc', '--store', server.uri, '--model', 'toy', '--dry-run'],
        server.env,
      );
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /toy\s+4\s+incomplete\s+2\.0h\s+would remove/);
      assert.match(dry.stdout, /toy\s+5\s+incomplete\s+0m\s+kept\s+may still be uploading/);
      assert.deepEqual((await objects.list('toy/4/')).objects, ['.claim', 'weights.bin']);

      const gc = await mscr(['models', 'gc', '--store', server.uri, '--json'], server.env);
      assert.equal(gc.code, 0, gc.stderr);
      const entries = JSON.parse(gc.stdout) as { model: string; version: number; action: string }[];
      assert.deepEqual(
        entries.map((e) => [e.model, e.version, e.action]),
        [
          ['toy', 4, 'removed'],
          ['toy', 5, 'kept'],
        ],
      );
      assert.deepEqual(await objects.list('toy/4/'), { objects: [], prefixes: [] });
      // Version 3's sizes match its manifest, so only a checksum check (the loader's) finds it.
      assert.deepEqual(await openStore(server.uri).listVersions('toy'), [1, 2, 3]);
      // The service never noticed: it still answers from version 2.
      const response = await postJson(`${url}/v2/models/toy/infer`, toyInfer());
      assert.equal(response.json.model_version, '2');
    });
  });
}
