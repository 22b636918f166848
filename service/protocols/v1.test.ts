import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { isMscrError } from '../../connectors/errors.ts';
import { sharedData } from '../../tests/shared-data.ts';
import { decodeImageBody } from './convenience.ts';
import {
  decodeV1PredictRequest,
  encodeV1PredictResponse,
  modelStatusResponse,
  modelsResponse,
} from './v1.ts';
import { cifarManifest, manifestWith, stockManifest, twoInputManifest } from './test-manifests.ts';

function rejects(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isMscrError(error, 'bad_request'), `expected bad_request, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  };
}

let jpeg: Buffer;
let b64: string;
let cat: Float32Array;
before(async () => {
  jpeg = await readFile(sharedData('cifar10/images/cat_0003.jpg'));
  b64 = jpeg.toString('base64');
  cat = await decodeImageBody(jpeg, cifarManifest);
});

/** [32][32][3] nested lists of the cat's model input. */
function nestedCat(): number[][][] {
  return Array.from({ length: 32 }, (_, y) =>
    Array.from({ length: 32 }, (_, x) =>
      Array.from({ length: 3 }, (_, c) => cat[(y * 32 + x) * 3 + c] as number),
    ),
  );
}

/** TF Serving's half_plus_three example model: one value in, one value out. */
const scalarManifest = manifestWith(
  [{ name: 'x', dtype: 'float32', shape: [-1] }],
  [{ name: 'y', dtype: 'float32', shape: [-1] }],
);

describe('decodeV1PredictRequest: row format', () => {
  test('an image file as {"b64": ...}, bare or named, is decoded as in training', async () => {
    for (const instance of [{ b64 }, { image: { b64 } }]) {
      const decoded = await decodeV1PredictRequest(
        { instances: [instance, instance] },
        cifarManifest,
      );
      assert.equal(decoded.format, 'row');
      const [image] = decoded.inputs;
      assert.deepEqual(image?.shape, [2, 32, 32, 3]);
      assert.deepEqual(image?.data.subarray(0, 3072), cat);
      assert.deepEqual(image?.data.subarray(3072), cat);
    }
  });

  test('URL-safe base64 works as well', async () => {
    const urlSafe = jpeg.toString('base64url');
    const decoded = await decodeV1PredictRequest({ instances: [{ b64: urlSafe }] }, cifarManifest);
    assert.deepEqual(decoded.inputs[0]?.data, cat);
  });

  test('pixels as nested lists are the model input as it is; a b64 image may sit beside them', async () => {
    const decoded = await decodeV1PredictRequest(
      { signature_name: 'serving_default', instances: [nestedCat(), { b64 }] },
      cifarManifest,
    );
    assert.deepEqual(decoded.inputs[0]?.shape, [2, 32, 32, 3]);
    assert.deepEqual(decoded.inputs[0]?.data.subarray(0, 3072), cat);
    assert.deepEqual(decoded.inputs[0]?.data.subarray(3072), cat);
  });

  test("TF Serving's own examples: scalars per instance, and [1, 2] tensors per instance", async () => {
    const scalars = await decodeV1PredictRequest(
      JSON.parse('{"instances": [1.0,2.0,5.0]}'),
      scalarManifest,
    );
    assert.deepEqual(scalars.inputs[0], {
      name: 'x',
      dtype: 'float32',
      shape: [3],
      data: Float32Array.from([1, 2, 5]),
    });
    const pairs = manifestWith(
      [{ name: 'x', dtype: 'float32', shape: [-1, 1, 2] }],
      [{ name: 'y', dtype: 'float32', shape: [-1] }],
    );
    const decoded = await decodeV1PredictRequest(
      JSON.parse('{"instances": [ [[1, 2]], [[3, 4]] ]}'),
      pairs,
    );
    assert.deepEqual(decoded.inputs[0]?.shape, [2, 1, 2]);
    assert.deepEqual(decoded.inputs[0]?.data, Float32Array.from([1, 2, 3, 4]));
  });

  test('a stock window per instance', async () => {
    const window = Array.from({ length: 7 }, (_, d) => [
      800 + d,
      805 + d,
      795 + d,
      1_200_000,
      802 + d,
    ]);
    const decoded = await decodeV1PredictRequest({ instances: [window] }, stockManifest);
    assert.deepEqual(decoded.inputs[0]?.shape, [1, 7, 5]);
    assert.equal(decoded.inputs[0]?.data[5], 801);
  });

  test('several inputs: each instance an object by input name', async () => {
    const decoded = await decodeV1PredictRequest(
      {
        instances: [
          { a: [1, 2], b: 3 },
          { b: 4, a: [5, 6] },
        ],
      },
      twoInputManifest,
    );
    assert.deepEqual(
      decoded.inputs.map((t) => [t.name, t.shape, Array.from(t.data)]),
      [
        ['a', [2, 2], [1, 2, 5, 6]],
        ['b', [2], [3, 4]],
      ],
    );
    assert.ok(decoded.inputs[1]?.data instanceof Int32Array);
  });
});

describe('decodeV1PredictRequest: columnar format', () => {
  test('a bare tensor, a named tensor, and b64 images', async () => {
    for (const body of [
      { inputs: [nestedCat()] },
      { inputs: { image: [nestedCat()] } },
      { inputs: [{ b64 }] },
      { inputs: { image: [{ b64 }] } },
    ]) {
      const decoded = await decodeV1PredictRequest(body, cifarManifest);
      assert.equal(decoded.format, 'columnar');
      assert.deepEqual(decoded.inputs[0]?.shape, [1, 32, 32, 3]);
      assert.deepEqual(decoded.inputs[0]?.data, cat);
    }
  });

  test("TF Serving's columnar example shape: inputs of several names", async () => {
    const decoded = await decodeV1PredictRequest(
      {
        inputs: {
          a: [
            [1, 2],
            [3, 4],
          ],
          b: [7, 8],
        },
      },
      twoInputManifest,
    );
    assert.deepEqual(
      decoded.inputs.map((t) => t.shape),
      [[2, 2], [2]],
    );
  });
});

describe('decodeV1PredictRequest: malformed and hostile bodies', () => {
  const cases: {
    name: string;
    body: () => unknown;
    error: RegExp;
    manifest?: typeof cifarManifest;
  }[] = [
    {
      name: 'not an object',
      body: () => [1, 2],
      error: /must be a JSON object \{"instances": \[...\]\} \(row format\) or \{"inputs": ...\}/,
    },
    {
      name: 'neither instances nor inputs',
      body: () => ({ examples: [] }),
      error: /\{"instances": \[...\]\} \(row format\)/,
    },
    {
      name: 'both instances and inputs',
      body: () => ({ instances: [1], inputs: [1] }),
      manifest: scalarManifest,
      error: /either "instances" \(row format\) or "inputs" \(columnar format\), not both/,
    },
    {
      name: 'empty instances',
      body: () => ({ instances: [] }),
      error: /instances must be a non-empty list.*got an empty list/,
    },
    {
      name: 'instances not a list',
      body: () => ({ instances: { b64 } }),
      error: /instances must be a non-empty list.*got an object/,
    },
    {
      name: 'an unknown signature',
      body: () => ({ signature_name: 'predict_images', instances: [{ b64 }] }),
      error:
        /unknown signature_name 'predict_images'; the model has one signature, 'serving_default'/,
    },
    {
      name: 'a numeric signature',
      body: () => ({ signature_name: 1, instances: [{ b64 }] }),
      error: /signature_name must be a string/,
    },
    {
      name: 'an unknown input name',
      body: () => ({ instances: [{ img: { b64 } }] }),
      error: /instances\[0\] names unknown input 'img'; the model's inputs are: 'image'/,
    },
    {
      name: 'a __proto__ key in an instance',
      body: () =>
        JSON.parse(`{"instances": [{"__proto__": {"b64": "${'A'.repeat(8)}"}}]}`) as unknown,
      error: /instances\[0\] names unknown input '__proto__'/,
    },
    {
      name: 'a missing input in an instance',
      body: () => ({ instances: [{ a: [1, 2] }] }),
      manifest: twoInputManifest,
      error: /instances\[0\] has no input 'b'/,
    },
    {
      name: 'a bare value for a two-input model',
      body: () => ({ instances: [[1, 2]] }),
      manifest: twoInputManifest,
      error: /instances\[0\] must be an object naming each input \('a', 'b'\)/,
    },
    {
      name: 'a bare columnar tensor for a two-input model',
      body: () => ({ inputs: [[1, 2]] }),
      manifest: twoInputManifest,
      error: /a bare "inputs" tensor works only for a model with one input; this model has 2/,
    },
    {
      name: 'a b64 value for a series model',
      body: () => ({ instances: [{ b64 }] }),
      manifest: stockManifest,
      error:
        /instances\[0\] is a \{"b64": ...\} value, but input 'window' of model 'goog-lstm' takes float32 numbers/,
    },
    {
      name: 'b64 text that is not base64',
      body: () => ({ instances: [{ b64: '<img src=x>' }] }),
      error: /instances\[0\]\.b64 is not base64 text/,
    },
    {
      name: 'b64 of bytes that are no image',
      body: () => ({
        instances: [{ b64: Buffer.from('GIF89a but not really').toString('base64') }],
      }),
      error: /instances\[0\] is GIF; this server decodes jpeg, png, webp/,
    },
    {
      name: 'a truncated JPEG',
      body: () => ({ instances: [{ b64: jpeg.subarray(0, 200).toString('base64') }] }),
      error: /cannot decode image instances\[0\]/,
    },
    {
      name: 'pixels of the wrong size',
      body: () => ({ instances: [[[[0, 0, 0]]]] }),
      error: /instances\[0\] has 1 entry; dimension 0 must be 32 \(shape \[32, 32, 3\]\)/,
    },
    {
      name: 'instances of different shapes',
      body: () => ({ instances: [[[1, 2]], [[3, 4, 5]]] }),
      manifest: manifestWith(
        [{ name: 'x', dtype: 'float32', shape: [-1, -1, -1] }],
        [{ name: 'y', dtype: 'float32', shape: [-1] }],
      ),
      error:
        /instances\[1\]\[0\] has 3 entries; dimension 1 must be 2 \(shape \[1, 2\] as in instances\[0\]: all instances need one shape\)/,
    },
    {
      name: 'a number as a string',
      body: () => ({ instances: ['1.5'] }),
      manifest: scalarManifest,
      error: /instances\[0\]: "1\.5" is not a number/,
    },
    {
      name: 'a "NaN" deep in a window',
      body: () => ({
        instances: [Array.from({ length: 7 }, (_, d) => [1, 2, 3, 4, d === 4 ? 'NaN' : 5])],
      }),
      manifest: stockManifest,
      error: /instances\[0\]\[4\]\[4\]: "NaN" is not a number/,
    },
    {
      name: 'a list where a scalar belongs',
      body: () => ({ instances: [[1]] }),
      manifest: scalarManifest,
      error: /instances\[0\] is a list, but the shape has no more dimensions/,
    },
    {
      name: '100000 levels of nesting',
      body: () => ({ instances: [deepList(100000)] }),
      manifest: scalarManifest,
      error: /instances\[0\] is a list/,
    },
    {
      name: 'more instances than the batch limit',
      body: () => ({ instances: new Array(1025).fill(1) }),
      manifest: scalarManifest,
      error: /instances has 1025 entries; at most 1024/,
    },
    { name: 'inputs null', body: () => ({ inputs: null }), error: /inputs is null/ },
    {
      name: 'columnar images beyond the batch limit',
      body: () => ({ inputs: new Array(1025).fill({ b64 }) }),
      error: /more than 16 \{"b64"\} images; send at most 16 per request/,
    },
  ];
  for (const { name, body, error, manifest } of cases) {
    test(name, async () => {
      await assert.rejects(
        decodeV1PredictRequest(body(), manifest ?? cifarManifest),
        rejects(error),
      );
    });
  }

  test('the element limit is enforced before large work', async () => {
    await assert.rejects(
      decodeV1PredictRequest({ instances: [nestedCat(), nestedCat()] }, cifarManifest, {
        maxElements: 4000,
        maxBatch: 10,
      }),
      rejects(/instances\[1\] has more than 928 elements/),
    );
  });
});

function deepList(depth: number): unknown {
  let node: unknown = [1];
  for (let i = 0; i < depth; i++) node = [node];
  return node;
}

describe('encodeV1PredictResponse', () => {
  const probabilities = {
    name: 'probabilities',
    shape: [2, 3],
    data: Float32Array.from([0.7, 0.2, 0.1, 0.05, 0.05, 0.9]),
  };

  test('row: one prediction per instance; a classifier predicts its probability list', () => {
    assert.deepEqual(encodeV1PredictResponse('row', [probabilities]), {
      predictions: [
        [0.7, 0.2, 0.1],
        [0.05, 0.05, 0.9],
      ],
    });
  });

  test("row: TF Serving's half_plus_three answer", () => {
    assert.deepEqual(
      encodeV1PredictResponse('row', [
        { name: 'y', shape: [3], data: Float32Array.from([3.5, 4.0, 5.5]) },
      ]),
      { predictions: [3.5, 4.0, 5.5] },
    );
  });

  test('row with several outputs: an object per instance', () => {
    const forecast = { name: 'f', shape: [2, 1], data: Float32Array.from([812.5, 813.25]) };
    assert.deepEqual(encodeV1PredictResponse('row', [probabilities, forecast]), {
      predictions: [
        { probabilities: [0.7, 0.2, 0.1], f: [812.5] },
        { probabilities: [0.05, 0.05, 0.9], f: [813.25] },
      ],
    });
  });

  test('columnar: the tensor, or an object by name', () => {
    const forecast = { name: 'f', shape: [2, 1], data: Float32Array.from([1, 2]) };
    assert.deepEqual(encodeV1PredictResponse('columnar', [forecast]), { outputs: [[1], [2]] });
    assert.deepEqual(encodeV1PredictResponse('columnar', [forecast, probabilities]), {
      outputs: {
        f: [[1], [2]],
        probabilities: [
          [0.7, 0.2, 0.1],
          [0.05, 0.05, 0.9],
        ],
      },
    });
  });

  test('outputs of different batch sizes cannot be rows', () => {
    assert.throws(
      () =>
        encodeV1PredictResponse('row', [
          probabilities,
          { name: 'f', shape: [3], data: new Float32Array(3) },
        ]),
      (error: unknown) => isMscrError(error, 'internal'),
    );
  });
});

describe('model status', () => {
  test("TF Serving's exact shape: newest first, version strings, states by name, status always", () => {
    const response = modelStatusResponse([
      { version: 1, state: 'END' },
      { version: 3, state: 'FAILED', error: 'model.json: sha256 mismatch' },
      { version: 2, state: 'AVAILABLE' },
      { version: 4, state: 'LOADING' },
    ]);
    assert.deepEqual(response, {
      model_version_status: [
        { version: '4', state: 'LOADING', status: { error_code: 'OK', error_message: '' } },
        {
          version: '3',
          state: 'END',
          status: { error_code: 'UNKNOWN', error_message: 'model.json: sha256 mismatch' },
        },
        { version: '2', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
        { version: '1', state: 'END', status: { error_code: 'OK', error_message: '' } },
      ],
    });
  });

  test('the one-version answer of the TF Serving docs', () => {
    assert.deepEqual(
      JSON.parse(JSON.stringify(modelStatusResponse([{ version: 123, state: 'AVAILABLE' }]))),
      JSON.parse(
        '{"model_version_status": [{"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}',
      ),
    );
  });

  test("with a name, KServe V1's name and ready are added", () => {
    const loading = modelStatusResponse([{ version: 1, state: 'LOADING' }], {
      name: 'cifar10-cnn',
    });
    assert.equal(loading.name, 'cifar10-cnn');
    assert.equal(loading.ready, false);
    assert.equal(
      modelStatusResponse([{ version: 1, state: 'AVAILABLE' }], { name: 'm' }).ready,
      true,
    );
    assert.deepEqual(modelsResponse(['b', 'a', 'b']), { models: ['a', 'b'] });
  });
});
