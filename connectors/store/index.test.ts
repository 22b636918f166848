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

test('openStore: s3:// and gs:// are not supported yet; unknown schemes list the supported ones', () => {
  assert.throws(() => openStore('s3://bucket/models'), configError(/s3:\/\/.*not supported yet/));
  assert.throws(() => openStore('gs://bucket/models'), configError(/gs:\/\/.*not supported yet/));
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
