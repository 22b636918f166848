import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { isMscrError } from '../../connectors/errors.ts';
import { sharedData } from '../../tests/shared-data.ts';
import { decodeImageBody } from './convenience.ts';
import { decodeInferRequest, encodeInferResponse, v2ModelMetadata } from './v2.ts';
import {
  binaryOutputsWanted,
  encodeBinaryResponse,
  inlineBinaryInputs,
  splitInferBody,
} from './v2-binary.ts';
import {
  cifarManifest,
  manifestWith,
  specExampleManifest,
  stockManifest,
  twoInputManifest,
} from './test-manifests.ts';

function rejects(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isMscrError(error, 'bad_request'), `expected bad_request, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  };
}

/** A JSON body as a client sends it: through the wire format. */
function wire(json: string): unknown {
  return JSON.parse(json);
}

let cat: Float32Array; // the real CIFAR-10 cat, as the model's input
before(async () => {
  const bytes = await readFile(sharedData('cifar10/images/cat_0003.jpg'));
  cat = await decodeImageBody(bytes, cifarManifest);
});

function imageInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'image',
    shape: [1, 32, 32, 3],
    datatype: 'FP32',
    data: Array.from(cat),
    ...overrides,
  };
}

describe('decodeInferRequest: stock clients', () => {
  test("the spec's own example request (kserve required_api.md), verbatim, is refused for its data count", () => {
    // Exactly as the spec prints it. Note: input1 has shape [3] but one value, an erratum of the spec.
    const verbatim = wire(`{
      "id" : "42",
      "inputs" : [
        {
          "name" : "input0",
          "shape" : [ 2, 2 ],
          "datatype" : "UINT32",
          "data" : [ 1, 2, 3, 4 ]
        },
        {
          "name" : "input1",
          "shape" : [ 3 ],
          "datatype" : "BOOL",
          "data" : [ true ]
        }
      ],
      "outputs" : [
        {
          "name" : "output0"
        }
      ]
    }`);
    assert.throws(
      () => decodeInferRequest(verbatim, specExampleManifest),
      rejects(/input 'input1' data has 1 value; shape \[3\] needs 3/),
    );
  });

  test("the spec's example with input1's data completed round-trips to the spec's response", () => {
    const request = wire(`{
      "id" : "42",
      "inputs" : [
        { "name" : "input0", "shape" : [ 2, 2 ], "datatype" : "UINT32", "data" : [ 1, 2, 3, 4 ] },
        { "name" : "input1", "shape" : [ 3 ], "datatype" : "BOOL", "data" : [ true, false, true ] }
      ],
      "outputs" : [ { "name" : "output0" } ]
    }`);
    const decoded = decodeInferRequest(request, specExampleManifest);
    assert.equal(decoded.id, '42');
    assert.deepEqual(decoded.outputs, ['output0']);
    const [input0, input1] = decoded.inputs;
    assert.deepEqual(input0, {
      name: 'input0',
      dtype: 'int32',
      shape: [2, 2],
      data: Int32Array.from([1, 2, 3, 4]),
    });
    assert.deepEqual(input1, {
      name: 'input1',
      dtype: 'bool',
      shape: [3],
      data: Uint8Array.from([1, 0, 1]),
    });

    // "Assuming the model returns a [ 3, 2 ] tensor of data type FP32":
    const response = encodeInferResponse(
      'mymodel',
      1,
      [
        {
          name: 'output0',
          shape: [3, 2],
          data: Float32Array.from([1.0, 1.1, 2.0, 2.1, 3.0, 3.1]),
        },
      ],
      decoded.outputs,
      decoded.id,
    );
    assert.deepEqual(JSON.parse(JSON.stringify(response)), {
      model_name: 'mymodel',
      model_version: '1',
      id: '42',
      outputs: [
        { name: 'output0', shape: [3, 2], datatype: 'FP32', data: [1.0, 1.1, 2.0, 2.1, 3.0, 3.1] },
      ],
    });
  });

  test('tritonclient.http with binary_data=False (set_data_from_numpy, InferRequestedOutput)', () => {
    // _get_inference_request(): "id" from request_id, inputs via InferInput._get_tensor() (no
    // parameters when binary_data=False), outputs with {"binary_data": false}.
    const json = `{"id": "1", "inputs": [{"name": "image", "shape": [1, 32, 32, 3], "datatype": "FP32", "data": ${JSON.stringify(Array.from(cat))}}], "outputs": [{"name": "probabilities", "parameters": {"binary_data": false}}]}`;
    const decoded = decodeInferRequest(wire(json), cifarManifest);
    assert.equal(decoded.id, '1');
    assert.deepEqual(decoded.outputs, ['probabilities']);
    assert.deepEqual(decoded.inputs[0]?.shape, [1, 32, 32, 3]);
    assert.deepEqual(decoded.inputs[0]?.data, cat); // bit for bit
  });

  test('tritonclient.http without outputs asks for binary_data_output; JSON is answered', () => {
    const json = `{"inputs": [{"name": "image", "shape": [1, 32, 32, 3], "datatype": "FP32", "data": ${JSON.stringify(Array.from(cat))}}], "parameters": {"binary_data_output": true}}`;
    const decoded = decodeInferRequest(wire(json), cifarManifest);
    assert.equal(decoded.id, undefined);
    assert.equal(decoded.outputs, undefined);
    assert.deepEqual(decoded.parameters, { binary_data_output: true });
  });

  test("tritonclient.http's default binary_data=True: a JSON header, then the raw float32 image", () => {
    // Byte for byte what tritonclient.http sends: the JSON header (its length in the
    // Inference-Header-Content-Length header), then the little-endian tensor.
    const header = Buffer.from(
      '{"inputs": [{"name": "image", "shape": [1, 32, 32, 3], "datatype": "FP32", "parameters": {"binary_data_size": 12288}}], "outputs": [{"name": "probabilities", "parameters": {"binary_data": true}}]}',
    );
    const body = Buffer.concat([header, Buffer.from(Float32Array.from(cat).buffer)]);
    const { json, binary } = splitInferBody(body, String(header.length));
    const decoded = decodeInferRequest(inlineBinaryInputs(json, binary), cifarManifest);
    assert.deepEqual(decoded.inputs[0]?.data, cat);
    assert.deepEqual(decoded.outputs, ['probabilities']);
    assert.deepEqual([...binaryOutputsWanted(json)], ['probabilities']);

    const response = encodeInferResponse('cifar10-cnn', 1, [
      { name: 'probabilities', shape: [1, 2], data: Float32Array.from([0.25, 0.75]) },
    ]);
    const encoded = encodeBinaryResponse(response, binaryOutputsWanted(json));
    const head = JSON.parse(encoded.body.subarray(0, encoded.headerLength).toString()) as {
      outputs: { parameters: { binary_data_size: number }; data?: unknown }[];
    };
    assert.equal(head.outputs[0]?.parameters.binary_data_size, 8);
    assert.equal(head.outputs[0]?.data, undefined);
    const tail = encoded.body.subarray(encoded.headerLength);
    assert.deepEqual([tail.readFloatLE(0), tail.readFloatLE(4)], [0.25, 0.75]);
  });

  test('binary data errors: no header, sizes that do not add up, a bad header length', () => {
    const header =
      '{"inputs": [{"name": "image", "shape": [1, 32, 32, 3], "datatype": "FP32", "parameters": {"binary_data_size": 12288}}]}';
    assert.throws(
      () => decodeInferRequest(wire(header), cifarManifest),
      rejects(/Inference-Header-Content-Length/),
    );
    const short = Buffer.concat([Buffer.from(header), Buffer.alloc(100)]);
    assert.throws(
      () =>
        inlineBinaryInputs(
          splitInferBody(short, String(header.length)).json,
          splitInferBody(short, String(header.length)).binary,
        ),
      rejects(/runs past the end/),
    );
    const long = Buffer.concat([Buffer.from(header), Buffer.alloc(12288 + 4)]);
    const split = splitInferBody(long, String(header.length));
    assert.throws(
      () => inlineBinaryInputs(split.json, split.binary),
      rejects(/carries 12292 bytes of binary data but its inputs declare 12288/),
    );
    assert.throws(() => splitInferBody(long, 'lots'), rejects(/Inference-Header-Content-Length/));
    assert.throws(() => splitInferBody(long, String(long.length + 1)), rejects(/at most the body/));
  });

  test('the kserve Python client (InferRequest.to_rest) adds model_name and a uuid id: accepted', () => {
    const json = `{"id": "6f1c2b0e-5d7a-4c43-9d1e-0c6b8b7f8f11", "model_name": "cifar10-cnn", "inputs": [{"name": "image", "shape": [1, 32, 32, 3], "datatype": "FP32", "data": ${JSON.stringify(Array.from(cat))}}]}`;
    const decoded = decodeInferRequest(wire(json), cifarManifest);
    assert.equal(decoded.id, '6f1c2b0e-5d7a-4c43-9d1e-0c6b8b7f8f11');
    assert.deepEqual(decoded.inputs[0]?.data, cat);
  });
});

describe('decodeInferRequest: data forms and conversions', () => {
  test('nested data equals flat data', () => {
    const nested: number[][][][] = [[]];
    for (let y = 0; y < 32; y++) {
      const row: number[][] = [];
      for (let x = 0; x < 32; x++) {
        const i = (y * 32 + x) * 3;
        row.push([cat[i] as number, cat[i + 1] as number, cat[i + 2] as number]);
      }
      nested[0]?.push(row);
    }
    const decoded = decodeInferRequest({ inputs: [imageInput({ data: nested })] }, cifarManifest);
    assert.deepEqual(decoded.inputs[0]?.data, cat);
  });

  test('lossless datatypes are converted: INT32, INT64 (numpy default), UINT8, FP16 into FP32', () => {
    const manifest = manifestWith(
      [{ name: 'x', dtype: 'float32', shape: [-1, 3] }],
      [{ name: 'y', dtype: 'float32', shape: [-1, 1] }],
    );
    for (const [datatype, data] of [
      ['INT32', [1, -2, 16777216]],
      ['INT64', [[1, 2, 3]]],
      ['UINT8', [0, 128, 255]],
      ['FP16', [0.5, -65504, 1]],
    ] as const) {
      const shape = [1, 3];
      const decoded = decodeInferRequest(
        { inputs: [{ name: 'x', shape, datatype, data }] },
        manifest,
      );
      assert.deepEqual(decoded.inputs[0]?.data, Float32Array.from(data.flat()), datatype);
    }
  });

  test('batched inputs: two inputs, both datatypes, output selection', () => {
    const decoded = decodeInferRequest(
      {
        inputs: [
          { name: 'b', shape: [2], datatype: 'INT64', data: [7, -8] },
          {
            name: 'a',
            shape: [2, 2],
            datatype: 'FP32',
            data: [
              [1, 2],
              [3, 4],
            ],
          },
        ],
        outputs: [{ name: 'z' }, { name: 'y' }],
      },
      twoInputManifest,
    );
    assert.deepEqual(
      decoded.inputs.map((t) => t.name),
      ['a', 'b'],
    ); // the manifest's order
    assert.deepEqual(decoded.inputs[1]?.data, Int32Array.from([7, -8]));
    assert.deepEqual(decoded.outputs, ['z', 'y']);
  });
});

function deepList(depth: number): unknown {
  let node: unknown = [1];
  for (let i = 0; i < depth; i++) node = [node];
  return node;
}

describe('decodeInferRequest: malformed and hostile bodies', () => {
  const valid = (): Record<string, unknown> => ({ inputs: [imageInput()] });
  const cases: {
    name: string;
    body: () => unknown;
    error: RegExp;
    manifest?: typeof cifarManifest;
  }[] = [
    { name: 'null body', body: () => null, error: /must be a JSON object \{"inputs"/ },
    { name: 'a list body', body: () => [imageInput()], error: /must be a JSON object.*got a list/ },
    { name: 'a string body', body: () => 'hello', error: /got "hello"/ },
    { name: 'no inputs', body: () => ({}), error: /inputs is missing.*'image'/ },
    { name: 'empty inputs', body: () => ({ inputs: [] }), error: /inputs is empty/ },
    {
      name: 'inputs not a list',
      body: () => ({ inputs: { image: [] } }),
      error: /inputs must be a list, got an object/,
    },
    {
      name: 'an input that is a number',
      body: () => ({ inputs: [5] }),
      error: /inputs\[0\] must be an object/,
    },
    {
      name: 'an input without a name',
      body: () => ({ inputs: [imageInput({ name: undefined })] }),
      error: /inputs\[0\]\.name must be a string, got missing/,
    },
    {
      name: 'an unknown input name',
      body: () => ({ inputs: [imageInput({ name: 'img' })] }),
      error: /unknown input 'img'; the model's inputs are: 'image'/,
    },
    {
      name: 'input named __proto__',
      body: () =>
        wire(`{"inputs": [{"name": "__proto__", "shape": [1], "datatype": "FP32", "data": [1]}]}`),
      error: /unknown input '__proto__'/,
    },
    {
      name: 'input named constructor',
      body: () => ({ inputs: [imageInput({ name: 'constructor' })] }),
      error: /unknown input 'constructor'/,
    },
    {
      name: 'the same input twice',
      body: () => ({ inputs: [imageInput(), imageInput()] }),
      error: /input 'image' is given twice/,
    },
    {
      name: 'lower-case datatype',
      body: () => ({ inputs: [imageInput({ datatype: 'fp32' })] }),
      error: /datatype 'fp32' \(datatypes are case-sensitive: FP32\)/,
    },
    {
      name: 'unknown datatype',
      body: () => ({ inputs: [imageInput({ datatype: 'FLOAT' })] }),
      error: /datatype 'FLOAT'; use one of BOOL, UINT8.*model expects FP32/,
    },
    {
      name: 'datatype missing',
      body: () => ({ inputs: [imageInput({ datatype: undefined })] }),
      error: /input 'image' has datatype missing/,
    },
    {
      name: 'FP64 for an FP32 input',
      body: () => ({ inputs: [imageInput({ datatype: 'FP64' })] }),
      error:
        /input 'image' has datatype FP64, model expects FP32 \(accepted: FP32.*astype\(np\.float32\)/,
    },
    {
      name: 'BOOL for an FP32 input',
      body: () => ({ inputs: [imageInput({ datatype: 'BOOL' })] }),
      error: /datatype BOOL, model expects FP32/,
    },
    {
      name: 'BYTES for a numeric model',
      body: () => ({ inputs: [imageInput({ datatype: 'BYTES', data: ['aGVsbG8='] })] }),
      error:
        /datatype BYTES, but the model takes FP32 numbers.*POST it to \/mscr\/models\/cifar10-cnn\/classify/,
    },
    {
      name: 'shape missing',
      body: () => ({ inputs: [imageInput({ shape: undefined })] }),
      error: /shape must be a list of dimensions like \[1, 32, 32, 3\]/,
    },
    {
      name: 'shape of the wrong rank',
      body: () => ({ inputs: [imageInput({ shape: [1, 3072] })] }),
      error: /rank 2; the model expects rank 4: \[-1, 32, 32, 3\] \(-1 = any size\)/,
    },
    {
      name: 'a wrong fixed dimension',
      body: () => ({ inputs: [imageInput({ shape: [1, 28, 28, 3] })] }),
      error: /shape \[1, 28, 28, 3\]; dimension 1 must be 32/,
    },
    {
      name: 'a negative dimension',
      body: () => ({ inputs: [imageInput({ shape: [-1, 32, 32, 3] })] }),
      error: /shape\[0\] is -1; dimensions are non-negative integers/,
    },
    {
      name: 'a string dimension',
      body: () => ({ inputs: [imageInput({ shape: ['1', 32, 32, 3] })] }),
      error: /shape\[0\] is "1"/,
    },
    {
      name: 'a fractional dimension',
      body: () => ({ inputs: [imageInput({ shape: [1.5, 32, 32, 3] })] }),
      error: /shape\[0\] is 1\.5/,
    },
    {
      name: 'a huge batch [1e9, ...]',
      body: () => ({ inputs: [imageInput({ shape: [1e9, 32, 32, 3] })] }),
      error: /batch of 1000000000; at most 1024 instances per request/,
    },
    {
      name: 'a huge inner dimension [1, 1e9]',
      body: () => ({ inputs: [{ name: 'x', shape: [1, 1e9], datatype: 'FP32', data: [1] }] }),
      manifest: manifestWith(
        [{ name: 'x', dtype: 'float32', shape: [-1, -1] }],
        [{ name: 'y', dtype: 'float32', shape: [-1, 1] }],
      ),
      error: /shape \[1, 1000000000\], more than the 4194304 elements a request may carry/,
    },
    {
      name: 'a shape past 2^64',
      body: () => ({ inputs: [imageInput({ shape: [2 ** 70, 32, 32, 3] })] }),
      error: /shape\[0\] is 1\.1805916207174113e\+21/,
    },
    {
      name: 'an empty batch',
      body: () => ({ inputs: [imageInput({ shape: [0, 32, 32, 3], data: [] })] }),
      error: /dimension 0 is 0.*at least one instance/,
    },
    {
      name: 'data missing',
      body: () => ({ inputs: [imageInput({ data: undefined })] }),
      error: /input 'image' data must be a list.*got missing/,
    },
    {
      name: 'data too short',
      body: () => ({ inputs: [imageInput({ data: [1, 2, 3, 4, 5] })] }),
      error: /data has 5 values; shape \[1, 32, 32, 3\] needs 3072/,
    },
    {
      name: 'a "NaN" string',
      body: () => ({
        inputs: [imageInput({ data: Array.from(cat, (v, i) => (i === 7 ? 'NaN' : v)) })],
      }),
      error: /input 'image' data\[7\]: "NaN" is not a number/,
    },
    {
      name: 'a null value',
      body: () => ({
        inputs: [imageInput({ data: Array.from(cat, (v, i) => (i === 9 ? null : v)) })],
      }),
      error: /data\[9\]: null is not a number/,
    },
    {
      name: 'a value beyond FP32',
      body: () => ({
        inputs: [imageInput({ data: Array.from(cat, (v, i) => (i === 0 ? 1e39 : v)) })],
      }),
      error: /data\[0\]: 1e\+39 is outside the range of FP32/,
    },
    {
      name: 'a value that is an object',
      body: () => ({
        inputs: [imageInput({ data: Array.from(cat, (v, i) => (i === 3 ? { valueOf: 1 } : v)) })],
      }),
      error: /data\[3\]: an object is not a number/,
    },
    {
      name: 'a ragged nested list',
      body: () => ({
        inputs: [
          { name: 'a', shape: [2, 2], datatype: 'FP32', data: [[1, 2], [3]] },
          { name: 'b', shape: [2], datatype: 'INT32', data: [1, 2] },
        ],
      }),
      manifest: twoInputManifest,
      error:
        /input 'a' data\[1\] has 1 entry, expected a list of 2: the nesting must be rectangular/,
    },
    {
      name: 'nesting that disagrees with the shape',
      body: () => ({
        inputs: [
          {
            name: 'x',
            shape: [2, 2, 2],
            datatype: 'FP32',
            data: [
              [1, 2, 3, 4],
              [5, 6, 7, 8],
            ],
          },
        ],
      }),
      manifest: manifestWith(
        [{ name: 'x', dtype: 'float32', shape: [-1, 2, 2] }],
        [{ name: 'y', dtype: 'float32', shape: [-1, 1] }],
      ),
      error: /data\[0\] has 4 entries; dimension 1 must be 2 \(shape \[2, 2, 2\]\)/,
    },
    {
      name: 'a list where a value belongs',
      body: () => ({
        inputs: [
          { name: 'a', shape: [1, 2], datatype: 'FP32', data: [1, [2]] },
          { name: 'b', shape: [1], datatype: 'INT32', data: [1] },
        ],
      }),
      manifest: twoInputManifest,
      error: /data\[1\] is a list, but the shape has no more dimensions/,
    },
    {
      name: '100000 levels of nesting',
      body: () => ({
        inputs: [
          { name: 'a', shape: [1, 2], datatype: 'FP32', data: deepList(100000) },
          { name: 'b', shape: [1], datatype: 'INT32', data: [1] },
        ],
      }),
      manifest: twoInputManifest,
      error: /input 'a' data\[0\] has 1 entry; dimension 1 must be 2 \(shape \[1, 2\]\)/,
    },
    {
      name: 'an INT32 too large to stay exact in FP32',
      body: () => ({
        inputs: [
          imageInput({
            datatype: 'INT32',
            data: Array.from(cat, (_, i) => (i === 5 ? 16777217 : 0)),
          }),
        ],
      }),
      error: /data\[5\]: 16777217 has no exact FP32 value/,
    },
    {
      name: 'a fraction in INT32 data',
      body: () => ({ inputs: [imageInput({ datatype: 'INT32', data: Array.from(cat) })] }),
      error: /data\[\d+\]: 0\.\d+ is not an integer, as INT32 requires/,
    },
    {
      name: 'a UINT8 out of range',
      body: () => ({
        inputs: [imageInput({ datatype: 'UINT8', data: Array.from(cat, () => 300) })],
      }),
      error: /data\[0\]: 300 is outside the range of UINT8 \(0\.\.255\)/,
    },
    {
      name: 'FP32 for an INT32 input',
      body: () => ({
        inputs: [
          { name: 'input0', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] },
          { name: 'input1', shape: [3], datatype: 'BOOL', data: [true, true, true] },
        ],
      }),
      manifest: specExampleManifest,
      error: /input 'input0' has datatype FP32, model expects INT32/,
    },
    {
      name: 'a UINT32 beyond INT32',
      body: () => ({
        inputs: [
          { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4294967295] },
          { name: 'input1', shape: [3], datatype: 'BOOL', data: [true, true, true] },
        ],
      }),
      manifest: specExampleManifest,
      error: /input 'input0' data\[3\]: 4294967295 does not fit in INT32/,
    },
    {
      name: '0/1 for a BOOL input',
      body: () => ({
        inputs: [
          { name: 'input0', shape: [2, 2], datatype: 'INT32', data: [1, 2, 3, 4] },
          { name: 'input1', shape: [3], datatype: 'BOOL', data: [1, 0, 1] },
        ],
      }),
      manifest: specExampleManifest,
      error: /input 'input1' data\[0\]: 1 is not a boolean/,
    },
    {
      name: 'a missing input',
      body: () => ({
        inputs: [{ name: 'input0', shape: [2, 2], datatype: 'INT32', data: [1, 2, 3, 4] }],
      }),
      manifest: specExampleManifest,
      error: /missing input 'input1'; the model's inputs are: 'input0', 'input1'/,
    },
    {
      name: 'batch sizes that disagree',
      body: () => ({
        inputs: [
          { name: 'a', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] },
          { name: 'b', shape: [3], datatype: 'INT32', data: [1, 2, 3] },
        ],
      }),
      manifest: twoInputManifest,
      error: /inputs 'a' and 'b' have batch sizes 2 and 3/,
    },
    {
      name: 'a batch above the limit',
      body: () => ({
        inputs: [
          { name: 'a', shape: [1025, 2], datatype: 'FP32', data: new Array(2050).fill(0) },
          { name: 'b', shape: [1025], datatype: 'INT32', data: new Array(1025).fill(0) },
        ],
      }),
      manifest: twoInputManifest,
      error: /batch of 1025; at most 1024 instances/,
    },
    {
      name: 'a numeric id',
      body: () => ({ ...valid(), id: 42 }),
      error: /id must be a string, got 42/,
    },
    {
      name: 'parameters that are not an object',
      body: () => ({ ...valid(), parameters: 'fast' }),
      error: /parameters must be an object of name: value pairs/,
    },
    {
      name: 'a parameter that is an object',
      body: () => ({ ...valid(), parameters: { priority: { level: 1 } } }),
      error: /parameters 'priority' is an object; a parameter is a string, number or boolean/,
    },
    {
      name: 'an unknown output',
      body: () => ({ ...valid(), outputs: [{ name: 'logits' }] }),
      error: /unknown output 'logits'; the model's outputs are: 'probabilities'/,
    },
    {
      name: 'outputs as a string',
      body: () => ({ ...valid(), outputs: 'probabilities' }),
      error: /outputs must be a list like \[\{"name": "probabilities"\}\]/,
    },
    {
      name: 'an output asked twice',
      body: () => ({ ...valid(), outputs: [{ name: 'probabilities' }, { name: 'probabilities' }] }),
      error: /asked for twice/,
    },
    {
      name: "Triton's classification extension",
      body: () => ({
        ...valid(),
        outputs: [{ name: 'probabilities', parameters: { classification: 3, binary_data: false } }],
      }),
      error: /classification extension.*\/classify/,
    },
    {
      name: 'shared memory',
      body: () => ({
        inputs: [
          imageInput({
            parameters: { shared_memory_region: 'in0', shared_memory_byte_size: 12288 },
          }),
        ],
      }),
      error: /shared-memory extension/,
    },
  ];
  for (const { name, body, error, manifest } of cases) {
    test(name, () => {
      assert.throws(() => decodeInferRequest(body(), manifest ?? cifarManifest), rejects(error));
    });
  }

  test('a __proto__ key carrying inputs is data, never the prototype', () => {
    const body = wire(
      `{"__proto__": {"inputs": [{"name": "image", "shape": [1, 32, 32, 3], "datatype": "FP32", "data": ${JSON.stringify(Array.from(cat))}}]}}`,
    );
    assert.throws(() => decodeInferRequest(body, cifarManifest), rejects(/inputs is missing/));
    // And a body whose prototype really was polluted (e.g. by a careless merge) is no better off.
    const polluted = Object.create({ inputs: [imageInput()] }) as unknown;
    assert.throws(() => decodeInferRequest(polluted, cifarManifest), rejects(/inputs is missing/));
    const withProtoParameter = wire(
      `{"inputs": [{"name": "image", "shape": [1, 32, 32, 3], "datatype": "FP32", "data": ${JSON.stringify(Array.from(cat))}}], "parameters": {"__proto__": {"polluted": true}}}`,
    );
    assert.throws(
      () => decodeInferRequest(withProtoParameter, cifarManifest),
      rejects(/'__proto__' is an object/),
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('messages stay short whatever the caller sends', () => {
    const long = 'x'.repeat(100_000);
    assert.throws(
      () => decodeInferRequest({ inputs: [imageInput({ name: long })] }, cifarManifest),
      (error: unknown) => isMscrError(error, 'bad_request') && error.message.length < 300,
    );
    assert.throws(
      () => decodeInferRequest({ inputs: [imageInput({ data: [long] })] }, cifarManifest),
      (error: unknown) => isMscrError(error, 'bad_request') && error.message.length < 300,
    );
  });

  test('the element limit applies over all inputs', () => {
    const limits = { maxElements: 5, maxBatch: 10 };
    assert.throws(
      () =>
        decodeInferRequest(
          {
            inputs: [
              { name: 'a', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] },
              { name: 'b', shape: [2], datatype: 'INT32', data: [1, 2] },
            ],
          },
          twoInputManifest,
          limits,
        ),
      rejects(/input 'b' has shape \[2\], more than the 1 elements/),
    );
  });
});

describe('encodeInferResponse', () => {
  const outputs = [
    { name: 'y', shape: [2, 1], data: Float32Array.from([0.1, 0.2]) },
    { name: 'z', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
  ];

  test('all outputs by default, FP32, shortest decimals, version as a string, no id unless given', () => {
    const response = encodeInferResponse('custom', 3, outputs);
    assert.deepEqual(response, {
      model_name: 'custom',
      model_version: '3',
      outputs: [
        { name: 'y', shape: [2, 1], datatype: 'FP32', data: [0.1, 0.2] },
        { name: 'z', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] },
      ],
    });
    assert.ok(!('id' in response));
  });

  test('only the requested outputs, in the requested order; the id is echoed', () => {
    const response = encodeInferResponse('custom', 3, outputs, ['z'], 'req-7');
    assert.equal(response.id, 'req-7');
    assert.deepEqual(
      response.outputs.map((o) => o.name),
      ['z'],
    );
  });

  test('an unknown requested output is a bad_request; a NaN output is internal', () => {
    assert.throws(
      () => encodeInferResponse('custom', 3, outputs, ['w']),
      rejects(/unknown output 'w'; the model's outputs are: 'y', 'z'/),
    );
    assert.throws(
      () =>
        encodeInferResponse('custom', 3, [
          { name: 'y', shape: [1, 1], data: Float32Array.from([NaN]) },
        ]),
      (error: unknown) => isMscrError(error, 'internal') && /NaN/.test(error.message),
    );
    assert.throws(
      () =>
        encodeInferResponse('custom', 3, [
          { name: 'y', shape: [2, 1], data: Float32Array.from([1]) },
        ]),
      (error: unknown) => isMscrError(error, 'internal'),
    );
  });
});

test('v2ModelMetadata describes the manifest in V2 terms', () => {
  assert.deepEqual(v2ModelMetadata(stockManifest, [3, 1, 3]), {
    name: 'goog-lstm',
    versions: ['1', '3'],
    platform: 'tfjs_layers-model',
    inputs: [{ name: 'window', datatype: 'FP32', shape: [-1, 7, 5] }],
    outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, 1] }],
  });
});
