import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError } from '../../connectors/errors.ts';
import { elementReader, float32ToJson, quote, walkTensor } from './tensor.ts';
import type { ElementReader, WalkOptions } from './tensor.ts';

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

test('quote gives the same text the second time and after many distinct texts (a bounded memo)', () => {
  const first = quote("a'b");
  for (let i = 0; i < 1000; i++) assert.equal(quote(`name-${i}`), `'name-${i}'`);
  assert.equal(quote("a'b"), first);
  assert.equal(quote("a'b"), "'a\\'b'");
  assert.equal(quote('z'.repeat(100)), `'${'z'.repeat(64)}...'`);
});

// --- the fast fills (tight loops for float32 and int32) against the careful walk -----------

/**
 * The same checks as `read`, but a function `walkTensor` does not recognise: it takes the
 * element-by-element walk alone, as every request did before the fast fills.
 */
function careful(read: ElementReader): ElementReader {
  return (v) => read(v);
}

type Outcome = { shape: number[]; type: string; bytes: Buffer } | { error: string };

function outcome(value: unknown, options: WalkOptions): Outcome {
  try {
    const { shape, data } = walkTensor(value, options);
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return { shape, type: data.constructor.name, bytes };
  } catch (error) {
    assert.ok(isMscrError(error, 'bad_request'), `expected bad_request, got ${String(error)}`);
    return { error: error.message };
  }
}

/** Walks `value` both ways; asserts the same typed array (bit for bit) or the same message. */
function bothWays(value: unknown, options: WalkOptions, old: unknown = value): Outcome {
  const fast = outcome(value, options);
  assert.deepEqual(fast, outcome(old, { ...options, read: careful(options.read) }));
  return fast;
}

function errorOf(result: Outcome): string | undefined {
  return 'error' in result ? result.error : undefined;
}

const readFloat32 = elementReader('json', 'float32') as ElementReader;
const readInt32 = elementReader('json', 'int32') as ElementReader;
const FP32_MAX = 3.4028234663852886e38;

/** A CIFAR-10-sized input: 3072 doubles as clients send them (not float32s), and edge values. */
function image(): number[] {
  const values = Array.from({ length: 3072 }, (_, i) => ((i * 37) % 256) / 255);
  Object.assign(values, { 5: -0, 6: 1e-45, 7: 1e-50, 8: FP32_MAX, 9: -FP32_MAX, 10: 0.1 });
  return values;
}

function nested(flat: readonly unknown[]): unknown[][][][] {
  const rows: unknown[][][] = [];
  for (let y = 0; y < 32; y++) {
    const row: unknown[][] = [];
    for (let x = 0; x < 32; x++) row.push(flat.slice((y * 32 + x) * 3, (y * 32 + x + 1) * 3));
    rows.push(row);
  }
  return [rows];
}

const flatImage: WalkOptions = {
  where: "input 'image' data",
  shape: [1, 32, 32, 3],
  maxElements: 4096,
  read: readFloat32,
  dtype: 'float32',
  allowFlat: true,
};

test('fast float32 fill: a good flat list and the same list nested give the careful result', () => {
  const values = image();
  const flat = bothWays(values, flatImage);
  assert.ok('bytes' in flat);
  assert.deepEqual(flat.shape, [1, 32, 32, 3]);
  assert.equal(flat.type, 'Float32Array');
  assert.deepEqual(
    new Float32Array(flat.bytes.buffer, flat.bytes.byteOffset, 3072),
    Float32Array.from(values),
  );
  assert.deepEqual(bothWays(nested(values), flatImage), flat);
  // V1: nested only, the batch dimension learnt.
  const v1 = { ...flatImage, where: 'inputs', shape: [-1, 32, 32, 3], allowFlat: false };
  assert.deepEqual(bothWays(nested(values), v1), flat);
  // A bare list into a rank-1 input, and a scalar into a rank-0 one (the V1 row format).
  assert.deepEqual(bothWays([1.5, -2], { ...v1, shape: [2] }), {
    shape: [2],
    type: 'Float32Array',
    bytes: Buffer.from(Float32Array.of(1.5, -2).buffer),
  });
  bothWays(2.5, { ...v1, shape: [] });
});

test('fast float32 fill: anything unusual gets the careful message, at the right position', () => {
  const cases: [string, unknown, RegExp][] = [
    ['a string in the middle', '0.5', /data\[1500\]: "0\.5" is not a number$/],
    ['null (JSON for NaN)', null, /data\[1500\]: null is not a number$/],
    ['a boolean', true, /data\[1500\]: true is not a number$/],
    ['an object', { v: 1 }, /data\[1500\]: an object is not a number$/],
    ['beyond FP32', 3.5e38, /data\[1500\]: 3\.5e\+38 is outside the range of FP32$/],
    ['just beyond FP32', 3.4028235e38, /data\[1500\]: 3\.4028235e\+38 is outside the range/],
    ['below -FP32', -1e39, /data\[1500\]: -1e\+39 is outside the range of FP32$/],
    ['NaN (not JSON)', NaN, /data\[1500\]: NaN is not a finite number$/],
    ['Infinity (not JSON)', -Infinity, /data\[1500\]: -Infinity is not a finite number$/],
    ['a list too deep', [1], /data\[1500\] is a list, but the shape has no more dimensions/],
  ];
  for (const [name, bad, message] of cases) {
    const values: unknown[] = image();
    values[1500] = bad;
    assert.match(errorOf(bothWays(values, flatImage)) ?? 'accepted', message, name);
    // Nested, element 1500 is [0][15][20][0].
    const nestedMessage = new RegExp(
      message.source.replace('\\[1500\\]', '\\[0\\]\\[15\\]\\[20\\]\\[0\\]'),
    );
    assert.match(errorOf(bothWays(nested(values), flatImage)) ?? 'accepted', nestedMessage, name);
  }
  // A hole in the list is a missing value; the first bad value is the one named.
  const holes: unknown[] = image();
  delete holes[7];
  holes[9] = 'x';
  assert.match(errorOf(bothWays(holes, flatImage)) ?? '', /data\[7\]: missing is not a number$/);
  // The last element, and the first.
  const last: unknown[] = image();
  last[3071] = null;
  assert.match(errorOf(bothWays(last, flatImage)) ?? '', /data\[3071\]: null/);
  assert.match(errorOf(bothWays(nested(last), flatImage)) ?? '', /data\[0\]\[31\]\[31\]\[2\]/);
  const first: unknown[] = image();
  first[0] = 'a';
  assert.match(errorOf(bothWays(first, flatImage)) ?? '', /data\[0\]: "a" is not a number$/);
});

test('fast float32 fill: counts, limits and nesting are checked as before', () => {
  const values = image();
  assert.match(
    errorOf(bothWays(values.slice(1), flatImage)) ?? '',
    /data has 3071 values; shape \[1, 32, 32, 3\] needs 3072/,
  );
  assert.match(
    errorOf(bothWays([...values, 1], flatImage)) ?? '',
    /data has 3073 values; shape \[1, 32, 32, 3\] needs 3072/,
  );
  assert.match(
    errorOf(bothWays(values, { ...flatImage, maxElements: 3000 })) ?? '',
    /has more than 3000 elements; send fewer instances per request/,
  );
  const short = nested(values);
  short[0]?.[4]?.[9]?.pop(); // an innermost list of 2 instead of 3
  assert.match(
    errorOf(bothWays(short, flatImage)) ?? '',
    /data\[0\]\[4\]\[9\] has 2 entries, expected a list of 3: the nesting must be rectangular/,
  );
  const long = nested(values);
  long[0]?.[31]?.[31]?.push(1);
  assert.match(errorOf(bothWays(long, flatImage)) ?? '', /data\[0\]\[31\]\[31\] has 4 entries/);
  const v1 = { ...flatImage, shape: [-1, 32, 32, 3], allowFlat: false };
  assert.match(
    errorOf(bothWays(nested(values), { ...v1, maxElements: 100 })) ?? '',
    /has more than 100 elements/,
  );
});

test('fast int32 fill: the careful result and messages (range, integers, non-numbers)', () => {
  const options: WalkOptions = {
    where: 'x',
    shape: [2, 4],
    maxElements: 100,
    read: readInt32,
    dtype: 'int32',
    allowFlat: true,
  };
  const good = [-2147483648, 2147483647, -0, 0, 7, -7, 65536, 1];
  const result = bothWays(good, options);
  assert.ok('bytes' in result && result.type === 'Int32Array');
  assert.deepEqual(
    new Int32Array(result.bytes.buffer, result.bytes.byteOffset, 8),
    Int32Array.from(good),
  );
  assert.deepEqual(bothWays([good.slice(0, 4), good.slice(4)], options), result);
  for (const [bad, message] of [
    [2147483648, /x\[3\]: 2147483648 is outside the range of INT32 \(-2147483648\.\.2147483647\)$/],
    [-2147483649, /x\[3\]: -2147483649 is outside the range of INT32/],
    [1.5, /x\[3\]: 1\.5 is not an integer, as INT32 requires$/],
    ['3', /x\[3\]: "3" is not a number$/],
    [null, /x\[3\]: null is not a number$/],
    [NaN, /x\[3\]: NaN is not a finite number$/],
  ] as const) {
    const values: unknown[] = [...good];
    values[3] = bad;
    assert.match(errorOf(bothWays(values, options)) ?? 'accepted', message);
    assert.match(
      errorOf(bothWays([values.slice(0, 4), values.slice(4)], options)) ?? 'accepted',
      new RegExp(message.source.replace('x\\[3\\]', 'x\\[0\\]\\[3\\]')),
    );
  }
  // V2 INT32 into int32 takes the same reader, and so the same checks.
  assert.equal(elementReader('INT32', 'int32'), readInt32);
});

test('a Float32Array (binary FP32) is checked like the list of its numbers', () => {
  const values = Float32Array.from(image());
  const good = bothWays(values, flatImage, Array.from(values));
  assert.ok('bytes' in good);
  assert.deepEqual(new Float32Array(good.bytes.buffer, good.bytes.byteOffset, 3072), values);
  for (const [bad, message] of [
    [NaN, /data\[2000\]: NaN is not a finite number$/],
    [Infinity, /data\[2000\]: Infinity is not a finite number$/],
    [-Infinity, /data\[2000\]: -Infinity is not a finite number$/],
  ] as const) {
    const copy = values.slice();
    copy[2000] = bad;
    assert.match(errorOf(bothWays(copy, flatImage, Array.from(copy))) ?? 'accepted', message);
  }
  const short = values.subarray(1);
  assert.match(
    errorOf(bothWays(short, flatImage, Array.from(short))) ?? '',
    /data has 3071 values; shape \[1, 32, 32, 3\] needs 3072/,
  );
  // Into an FP16 input its own (careful) reader decides: 65504 at most.
  const fp16 = elementReader('FP16', 'float32') as ElementReader;
  assert.match(
    errorOf(
      bothWays(Float32Array.of(1, 7e4), { ...flatImage, shape: [2], read: fp16 }, [1, 7e4]),
    ) ?? '',
    /data\[1\]: 70000 is outside the range of FP16$/,
  );
});
