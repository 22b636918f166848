import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { isMscrError } from '../errors.ts';
import { sampleDraft, sampleFiles } from './contract-fixtures.ts';
import { openStore, storeUriOf } from './index.ts';

function configError(message: RegExp): (error: unknown) => boolean {
  return (error) => isMscrError(error, 'config') && message.test(error.message);
}

test('openStore opens a local folder by path or file:// URI', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mscr-open-'));
  try {
    const byPath = openStore(dir);
    assert.equal(byPath.uri, pathToFileURL(dir).href);
    await byPath.publish(sampleDraft('m'), sampleFiles('x'));
    for (const uri of [pathToFileURL(dir).href, `FILE://${dir}`, `${dir}/`]) {
      assert.deepEqual(await openStore(uri).listVersions('m'), [1]);
    }
    const relative = path.relative(process.cwd(), dir);
    assert.deepEqual(await openStore(`file://./${relative}`).listVersions('m'), [1]);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('openStore opens s3:// and gs:// without a request; bad URIs and settings are config errors', () => {
  // Opening makes no request (the contract tests against MinIO and fake-gcs-server use them).
  assert.equal(openStore('s3://bucket-1/models', { env: {} }).uri, 's3://bucket-1/models');
  assert.equal(openStore('S3://bucket-1', { env: {} }).uri, 's3://bucket-1');
  assert.equal(openStore('gs://bucket-1/models/', { env: {} }).uri, 'gs://bucket-1/models');
  assert.throws(() => openStore('s3://bad bucket/x', { env: {} }), configError(/bucket/i));
  assert.throws(() => openStore('gs://', { env: {} }), configError(/gs:\/\//));
  assert.throws(
    () => openStore('s3://bucket-1', { env: { MSCR_S3_FORCE_PATH_STYLE: 'sometimes' } }),
    configError(/MSCR_S3_FORCE_PATH_STYLE must be true or false/),
  );
  assert.throws(() => openStore('ftp://host/models'), configError(/file:\/\/, s3:\/\/, gs:\/\//));
  assert.throws(() => openStore(''), configError(/no model store/));
  assert.throws(() => openStore('file://host/models'), configError(/file:\/\/\//));
});

test('storeUriOf gives an absolute file:/// URI for local stores', () => {
  assert.equal(storeUriOf('./models'), pathToFileURL(path.resolve('models')).href);
  assert.equal(storeUriOf('file://./models'), pathToFileURL(path.resolve('models')).href);
  assert.equal(storeUriOf('/srv/models/'), 'file:///srv/models');
  assert.equal(storeUriOf('file:///srv/models'), 'file:///srv/models');
  assert.equal(storeUriOf('s3://bucket/prefix/'), 's3://bucket/prefix');
});
