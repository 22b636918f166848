import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { isMscrError } from '../../connectors/errors.ts';
import { resolveDataPath } from './resolve-path.ts';

test('local paths and file:// URIs resolve to absolute paths', () => {
  assert.equal(resolveDataPath('/work/shared/data/stock'), '/work/shared/data/stock');
  assert.equal(resolveDataPath('data/x.csv'), resolve('data/x.csv'));
  assert.equal(resolveDataPath('file:///tmp/a%20b/labels.csv'), '/tmp/a b/labels.csv');
});

test('object-store URIs are refused with a clear bad_data error', () => {
  for (const uri of ['s3://bucket/cifar10', 'gs://bucket/prices.csv']) {
    assert.throws(
      () => resolveDataPath(uri),
      (error: unknown) =>
        isMscrError(error, 'bad_data') &&
        /not supported yet by the data loader/.test(error.message),
    );
  }
  assert.throws(
    () => resolveDataPath('https://example.com/x.csv'),
    /unsupported data URI scheme https/,
  );
  assert.throws(() => resolveDataPath(''), /empty/);
});
