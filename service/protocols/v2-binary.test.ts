import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError } from '../../connectors/errors.ts';
import { decodeInferRequest } from './v2.ts';
import { float32FromLittleEndian, inlineBinaryInputs, splitInferBody } from './v2-binary.ts';
import { cifarManifest, manifestWith, twoInputManifest } from './test-manifests.ts';
import type { DecodeLimits } from './tensor.ts';

const FP32_MAX = 3.4028234663852886e38;

/** A CIFAR-10-sized FP32 input with edge values (-0, the smallest subnormal, ±FP32_MAX). */
function image(): Float32Array {
  const values = Float32Array.from({ length: 3072 }, (_, i) => ((i * 37) % 256) / 255);
  values.set([-0, 1e-45, FP32_MAX, -FP32_MAX], 5);
  return values;
}

/** `values` as tritonclient sends them: little-endian bytes, whatever the host. */
function littleEndianBytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return bytes;
}

/**
 * A binary request body whose tensor bytes start at `header.length + pad`: the header is
 * padded with spaces, so the FP32 data sits at any offset (not only a multiple of 4).
 */
function binaryBody(
  header: object,
  tensor: Uint8Array,
  pad: number,
): { body: Uint8Array; length: string } {
  const json = Buffer.from(JSON.stringify(header) + ' '.repeat(pad));
  const body = new Uint8Array(json.length + tensor.length); // byteOffset 0, no pooled Buffer
  body.set(json);
  body.set(tensor, json.length);
  return { body, length: String(json.length) };
}

function imageRequest(size: number, shape = [1, 32, 32, 3]): object {
  return {
    inputs: [{ name: 'image', shape, datatype: 'FP32', parameters: { binary_data_size: size } }],
  };
}

/** Decodes a binary request; the message of the bad_request it is refused with, if any. */
function decode(
  body: { body: Uint8Array; length: string },
  limits?: DecodeLimits,
): { data: Float32Array | Int32Array | Uint8Array } | { error: string } {
  const { json, binary } = splitInferBody(body.body, body.length);
  try {
    const decoded = decodeInferRequest(inlineBinaryInputs(json, binary), cifarManifest, limits);
    return { data: (decoded.inputs[0] as { data: Float32Array }).data };
  } catch (error) {
    assert.ok(isMscrError(error, 'bad_request'), `expected bad_request, got ${String(error)}`);
    return { error: error.message };
  }
}

/** What the JSON path (and the binary path before FP32 became a Float32Array) says. */
function decodeAsJson(
  values: Float32Array,
  shape = [1, 32, 32, 3],
  limits?: DecodeLimits,
): { data: Float32Array | Int32Array | Uint8Array } | { error: string } {
  try {
    const request = { inputs: [{ name: 'image', shape, datatype: 'FP32', data: [...values] }] };
    const decoded = decodeInferRequest(request, cifarManifest, limits);
    return { data: (decoded.inputs[0] as { data: Float32Array }).data };
  } catch (error) {
    assert.ok(isMscrError(error, 'bad_request'));
    return { error: error.message };
  }
}

test('float32FromLittleEndian: the same values at every alignment, on either kind of host', () => {
  const values = image();
  const bytes = littleEndianBytes(values);
  for (let offset = 0; offset < 4; offset++) {
    const padded = new Uint8Array(offset + bytes.length + 3);
    padded.set(bytes, offset);
    const slice = padded.subarray(offset, offset + bytes.length);
    for (const littleEndianHost of [true, false]) {
      const out = float32FromLittleEndian(slice, littleEndianHost);
      assert.equal(out.byteOffset, 0, 'a copy, not a view of the body');
      assert.deepEqual(out, values, `offset ${offset}, little-endian host ${littleEndianHost}`);
    }
  }
});

test('binary FP32 becomes a Float32Array, equal to the JSON data, at any byte offset', () => {
  const values = image();
  const json = decodeAsJson(values);
  for (let pad = 0; pad < 4; pad++) {
    const body = binaryBody(imageRequest(12288), littleEndianBytes(values), pad);
    const { json: header, binary } = splitInferBody(body.body, body.length);
    const inlined = inlineBinaryInputs(header, binary) as {
      inputs: { data: unknown; parameters?: unknown }[];
    };
    assert.ok(inlined.inputs[0]?.data instanceof Float32Array);
    assert.equal(inlined.inputs[0]?.parameters, undefined);
    assert.deepEqual(decode(body), json);
    assert.deepEqual(decode(body), { data: values });
  }
});

test('binary FP32: NaN, infinities, counts and limits are refused as in JSON, same words', () => {
  for (const [bad, message] of [
    [NaN, "input 'image' data[2000]: NaN is not a finite number"],
    [Infinity, "input 'image' data[2000]: Infinity is not a finite number"],
    [-Infinity, "input 'image' data[2000]: -Infinity is not a finite number"],
  ] as const) {
    const values = image();
    values[2000] = bad;
    const refused = decode(binaryBody(imageRequest(12288), littleEndianBytes(values), 1));
    assert.deepEqual(refused, { error: message });
    assert.deepEqual(decodeAsJson(values), refused);
  }
  // Too few and too many values for the shape.
  for (const count of [3071, 3073]) {
    const values = new Float32Array(count).fill(0.5);
    values.set(image().subarray(0, count));
    const refused = decode(binaryBody(imageRequest(count * 4), littleEndianBytes(values), 3));
    assert.deepEqual(refused, {
      error: `input 'image' data has ${count} values; shape [1, 32, 32, 3] needs 3072: send exactly that many, flat in row-major order or nested like the shape`,
    });
    assert.deepEqual(decodeAsJson(values), refused);
  }
  // A shape over the element limit is refused before the data is looked at.
  const limits = { maxElements: 3000, maxBatch: 8 };
  const values = image();
  const refused = decode(binaryBody(imageRequest(12288), littleEndianBytes(values), 2), limits);
  assert.match('error' in refused ? refused.error : '', /more than the 3000 elements/);
  assert.deepEqual(decodeAsJson(values, [1, 32, 32, 3], limits), refused);
});

test('binary FP32 into an INT32 input is refused for its datatype, as in JSON', () => {
  const manifest = manifestWith(
    [{ name: 'image', dtype: 'int32', shape: [2] }],
    [{ name: 'y', dtype: 'float32', shape: [1] }],
  );
  const body = binaryBody(imageRequest(8, [2]), littleEndianBytes([1, 2]), 0);
  const { json, binary } = splitInferBody(body.body, body.length);
  assert.throws(
    () => decodeInferRequest(inlineBinaryInputs(json, binary), manifest),
    /input 'image' has datatype FP32, model expects INT32/,
  );
});

test('other binary datatypes still become lists of numbers; offsets run on after FP32', () => {
  // Input 'a' FP32 [2, 2] (16 bytes), then 'b' INT64 [2] (16 bytes), unaligned in the body.
  const a = littleEndianBytes([1.5, -2, 3, 0.25]);
  const b = new Uint8Array(16);
  new DataView(b.buffer).setBigInt64(0, -7n, true);
  new DataView(b.buffer).setBigInt64(8, 9n, true);
  const tensor = new Uint8Array(32);
  tensor.set(a);
  tensor.set(b, 16);
  const header = {
    inputs: [
      { name: 'a', shape: [2, 2], datatype: 'FP32', parameters: { binary_data_size: 16 } },
      { name: 'b', shape: [2], datatype: 'INT64', parameters: { binary_data_size: 16 } },
    ],
  };
  const body = binaryBody(header, tensor, 1);
  const { json, binary } = splitInferBody(body.body, body.length);
  const inlined = inlineBinaryInputs(json, binary) as { inputs: { data: unknown }[] };
  assert.deepEqual(inlined.inputs[1]?.data, [-7, 9]);
  const decoded = decodeInferRequest(inlined, twoInputManifest);
  assert.deepEqual(decoded.inputs[0]?.data, Float32Array.of(1.5, -2, 3, 0.25));
  assert.deepEqual(decoded.inputs[1]?.data, Int32Array.of(-7, 9));
});
