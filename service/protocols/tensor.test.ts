import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError } from '../../connectors/errors.ts';
import { elementReader, float32ToJson, quote, walkTensor } from './tensor.ts';

test('float32ToJson: the shortest decimal that reads back as the same float32', () => {
  assert.equal(float32ToJson(Math.fround(0.1), 'x'), 0.1);
  assert.equal(JSON.stringify(float32ToJson(Math.fround(1.1), 'x')), '1.1');
  for (let i = 0; i < 2000; i++) {
    const v = Math.fround(Math.sin(i) * 10 ** ((i % 40) - 20));
    assert.equal(Math.fround(float32ToJson(v, 'x')), v, String(v));
  }
  assert.throws(
    () => float32ToJson(Infinity, 'output y'),
    (e: unknown) => isMscrError(e, 'internal'),
  );
});

test('elementReader: which datatypes go into which dtype', () => {
  const accepts = (
    source: Parameters<typeof elementReader>[0],
    target: Parameters<typeof elementReader>[1],
  ) => elementReader(source, target) !== undefined;
  assert.ok(
    accepts('FP32', 'float32') && accepts('INT64', 'float32') && accepts('FP16', 'float32'),
  );
  assert.ok(
    !accepts('FP64', 'float32') && !accepts('BOOL', 'float32') && !accepts('BYTES', 'float32'),
  );
  assert.ok(accepts('UINT8', 'int32') && !accepts('FP32', 'int32') && !accepts('FP16', 'int32'));
  assert.ok(accepts('BOOL', 'bool') && !accepts('INT8', 'bool'));
  assert.equal(elementReader('INT64', 'float32')?.(16777216), 16777216);
  assert.equal(elementReader('json', 'bool')?.(true), 1);
});

test('walkTensor learns -1 dimensions from the data and refuses ragged lists', () => {
  const read = elementReader('json', 'float32');
  assert.ok(read);
  const walked = walkTensor(
    [
      [1, 2, 3],
      [4, 5, 6],
    ],
    { where: 'x', shape: [-1, -1], maxElements: 100, read, dtype: 'float32' },
  );
  assert.deepEqual(walked.shape, [2, 3]);
  assert.deepEqual(walked.data, Float32Array.from([1, 2, 3, 4, 5, 6]));
  assert.throws(
    () =>
      walkTensor(
        [
          [1, 2, 3],
          [4, 5],
        ],
        { where: 'x', shape: [-1, -1], maxElements: 100, read, dtype: 'float32' },
      ),
    /x\[1\] has 2 entries, expected a list of 3: the nesting must be rectangular/,
  );
  assert.throws(
    () =>
      walkTensor(
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        { where: 'x', shape: [-1, -1], maxElements: 5, read, dtype: 'float32' },
      ),
    /x has more than 5 elements/,
  );
});

test('quote escapes and cuts', () => {
  assert.equal(quote("it's"), "'it\\'s'");
  assert.equal(quote('a\nb'), "'a\\nb'");
  assert.equal(quote('y'.repeat(100)).length, 64 + 5);
});
