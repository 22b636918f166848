import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError } from '../errors.ts';
import { TENSOR_DTYPES } from '../ms/manifest.ts';
import {
  mscrEvaluatePath,
  mscrTrainRunPath,
  matchRoute,
  methodOfPath,
  mscrClassifyPath,
  mscrForecastPath,
  mscrPredictPath,
  v1ClassifyPath,
  v1MetadataPath,
  v1ModelPath,
  v1PredictPath,
  v1RegressPath,
  v2InferPath,
  v2ModelPath,
  v2ModelReadyPath,
  type Route,
  type VersionSelector,
} from './routes.ts';
import {
  V2_ACCEPTED_DATATYPES,
  V2_DATATYPES,
  isV2Datatype,
  tensorDtypeOf,
  v2DatatypeOf,
} from './v2.ts';

const badRequest = (pattern: RegExp) => (error: unknown) =>
  isMscrError(error, 'bad_request') && pattern.test(error.message);

describe('V2 datatypes', () => {
  test('manifest dtypes map to V2 datatypes and back', () => {
    assert.deepEqual(
      TENSOR_DTYPES.map((d) => v2DatatypeOf(d)),
      ['FP32', 'INT32', 'BOOL'],
    );
    for (const dtype of TENSOR_DTYPES) assert.equal(tensorDtypeOf(v2DatatypeOf(dtype)), dtype);
    assert.equal(tensorDtypeOf('FP64'), undefined);
    assert.equal(tensorDtypeOf('BYTES'), undefined);
  });

  test('the spec has 13 datatypes, case-sensitive', () => {
    assert.equal(V2_DATATYPES.length, 13);
    assert.ok(isV2Datatype('UINT64'));
    assert.ok(!isV2Datatype('fp32'));
    assert.ok(!isV2Datatype('BF16'));
    assert.ok(!isV2Datatype(32));
  });

  test('every dtype accepts its own datatype; floats never go into INT32, FP64 never into FP32', () => {
    for (const dtype of TENSOR_DTYPES) {
      assert.equal(V2_ACCEPTED_DATATYPES[dtype][0], v2DatatypeOf(dtype));
      assert.ok(!V2_ACCEPTED_DATATYPES[dtype].includes('BYTES'));
    }
    assert.ok(!V2_ACCEPTED_DATATYPES.float32.includes('FP64'));
    assert.ok(!V2_ACCEPTED_DATATYPES.int32.some((d) => d.startsWith('FP')));
    assert.deepEqual(V2_ACCEPTED_DATATYPES.bool, ['BOOL']);
  });
});

describe('routes', () => {
  const cases: { path: string; route: Route }[] = [
    { path: '/v1/models', route: { api: 'v1', kind: 'models', method: 'GET' } },
    {
      path: '/v1/models/cifar10-cnn',
      route: { api: 'v1', kind: 'status', method: 'GET', model: 'cifar10-cnn' },
    },
    {
      path: '/v1/models/cifar10-cnn/versions/3',
      route: {
        api: 'v1',
        kind: 'status',
        method: 'GET',
        model: 'cifar10-cnn',
        selector: { version: 3 },
      },
    },
    {
      path: '/v1/models/cifar10-cnn/labels/stable:predict',
      route: {
        api: 'v1',
        kind: 'predict',
        method: 'POST',
        model: 'cifar10-cnn',
        selector: { label: 'stable' },
      },
    },
    {
      path: '/v1/models/half_plus_three:predict',
      route: { api: 'v1', kind: 'predict', method: 'POST', model: 'half_plus_three' },
    },
    { path: '/v2', route: { api: 'v2', kind: 'server-metadata', method: 'GET' } },
    { path: '/v2/', route: { api: 'v2', kind: 'server-metadata', method: 'GET' } },
    { path: '/v2/health/live', route: { api: 'v2', kind: 'live', method: 'GET' } },
    { path: '/v2/health/ready', route: { api: 'v2', kind: 'ready', method: 'GET' } },
    {
      path: '/v2/models/mymodel',
      route: { api: 'v2', kind: 'model-metadata', method: 'GET', model: 'mymodel' },
    },
    {
      path: '/v2/models/mymodel/versions/12/ready',
      route: {
        api: 'v2',
        kind: 'model-ready',
        method: 'GET',
        model: 'mymodel',
        selector: { version: 12 },
      },
    },
    {
      path: '/v2/models/mymodel/versions/canary/infer',
      route: {
        api: 'v2',
        kind: 'infer',
        method: 'POST',
        model: 'mymodel',
        selector: { label: 'canary' },
      },
    },
    {
      path: '/mscr/models/goog-lstm/forecast',
      route: { api: 'mscr', kind: 'forecast', method: 'POST', model: 'goog-lstm' },
    },
    {
      path: '/mscr/models/breast-cancer/predict',
      route: { api: 'mscr', kind: 'tabular', method: 'POST', model: 'breast-cancer' },
    },
    {
      path: '/mscr/models/cifar10-cnn/versions/2/classify',
      route: {
        api: 'mscr',
        kind: 'classify',
        method: 'POST',
        model: 'cifar10-cnn',
        selector: { version: 2 },
      },
    },
  ];
  for (const { path, route } of cases) {
    test(`matches ${path}`, () => assert.deepEqual(matchRoute(path), route));
  }

  test('the path builders produce what the matcher reads back', () => {
    const selectors: (VersionSelector | undefined)[] = [
      undefined,
      { version: 7 },
      { label: 'stable' },
    ];
    for (const selector of selectors) {
      const ref = { model: 'm.1_x', ...(selector ? { selector } : {}) };
      assert.deepEqual(matchRoute(v1ModelPath('m.1_x', selector)), {
        api: 'v1',
        kind: 'status',
        method: 'GET',
        ...ref,
      });
      assert.deepEqual(matchRoute(v1PredictPath('m.1_x', selector)), {
        api: 'v1',
        kind: 'predict',
        method: 'POST',
        ...ref,
      });
      assert.deepEqual(matchRoute(v2ModelPath('m.1_x', selector)), {
        api: 'v2',
        kind: 'model-metadata',
        method: 'GET',
        ...ref,
      });
      assert.deepEqual(matchRoute(v2ModelReadyPath('m.1_x', selector)), {
        api: 'v2',
        kind: 'model-ready',
        method: 'GET',
        ...ref,
      });
      assert.deepEqual(matchRoute(mscrPredictPath('m.1_x', selector)), {
        api: 'mscr',
        kind: 'tabular',
        method: 'POST',
        ...ref,
      });
      assert.deepEqual(matchRoute(v2InferPath('m.1_x', selector)), {
        api: 'v2',
        kind: 'infer',
        method: 'POST',
        ...ref,
      });
      assert.deepEqual(matchRoute(mscrClassifyPath('m.1_x', selector)), {
        api: 'mscr',
        kind: 'classify',
        method: 'POST',
        ...ref,
      });
      assert.deepEqual(matchRoute(mscrForecastPath('m.1_x', selector)), {
        api: 'mscr',
        kind: 'forecast',
        method: 'POST',
        ...ref,
      });
    }
    assert.equal(
      v1PredictPath('cifar10-cnn', { version: 3 }),
      '/v1/models/cifar10-cnn/versions/3:predict',
    );
    assert.equal(v2InferPath('cifar10-cnn'), '/v2/models/cifar10-cnn/infer');
  });

  test('unknown paths are undefined (404), not errors', () => {
    for (const path of [
      '/',
      '',
      'v2',
      '/v3/models/m',
      '/v1/models/m:explain',
      '/v1/models/m/metadata:predict',
      '/v1/models/m/versions/1/metadata/x',
      '/v1/models/m/versions/1/extra',
      '/v2/health',
      '/v2/health/alive',
      '/v2/models',
      '/v2/models/m/explain',
      '/v2/models/m/versions',
      '/v2/models/m/versions/1/infer/more',
      '/mscr/models/m',
      '/mscr/models/m/predict/more',
      '/mscr/models/m/explain',
    ]) {
      assert.equal(matchRoute(path), undefined, path);
    }
  });

  test('known shapes with a bad part are a bad_request naming it', () => {
    assert.throws(() => matchRoute('/v1/models/Bad Name'), badRequest(/invalid model name/));
    assert.throws(() => matchRoute('/v1/models/..:predict'), badRequest(/invalid model name/));
    assert.throws(() => matchRoute('/v1/models/m/versions/abc'), badRequest(/\/labels\//));
    assert.throws(() => matchRoute('/v1/models/m/versions/03'), badRequest(/positive integers/));
    // Version 0 is well-formed but never exists: not found, as in TF Serving.
    for (const path of [
      '/v1/models/m/versions/0:predict',
      '/v1/models/m/versions/0',
      '/v2/models/m/versions/0/infer',
      '/mscr/models/m/versions/00/classify',
    ]) {
      assert.throws(
        () => matchRoute(path),
        (e: unknown) => isMscrError(e, 'not_found') && /no version 0/.test(e.message),
        path,
      );
    }
    assert.throws(() => matchRoute('/v1/models/m/labels/latest'), badRequest(/invalid alias name/));
    assert.throws(
      () => matchRoute('/v2/models/m/versions/99999999999999999/infer'),
      badRequest(/positive integers/),
    );
    assert.throws(() => matchRoute('/v2/models/%E0%A4%A/infer'), badRequest(/percent-encoding/));
    assert.throws(() => matchRoute('/v2/models/__proto__/infer'), badRequest(/invalid model name/));
    // `%3A` is an encoded colon in the name, never the verb separator.
    assert.throws(() => matchRoute('/v1/models/m%3Apredict'), badRequest(/invalid model name/));
  });

  test('TF Serving metadata, classify and regress routes, with their builders', () => {
    const selectors: (VersionSelector | undefined)[] = [undefined, { version: 3 }, { label: 'a' }];
    for (const selector of selectors) {
      const ref = { model: 'm', ...(selector ? { selector } : {}) };
      assert.deepEqual(matchRoute(v1MetadataPath('m', selector)), {
        api: 'v1',
        kind: 'metadata',
        method: 'GET',
        ...ref,
      });
      for (const [kind, build] of [
        ['tf-classify', v1ClassifyPath],
        ['tf-regress', v1RegressPath],
      ] as const) {
        assert.deepEqual(matchRoute(build('m', selector)), {
          api: 'v1',
          kind,
          method: 'POST',
          ...ref,
        });
      }
    }
    assert.equal(v1MetadataPath('m', { version: 2 }), '/v1/models/m/versions/2/metadata');
    // A model may be called "metadata": its status path is still the status.
    assert.deepEqual(matchRoute('/v1/models/metadata'), {
      api: 'v1',
      kind: 'status',
      method: 'GET',
      model: 'metadata',
    });
  });

  test('methodOfPath judges the method from the shape, even when a segment is invalid', () => {
    assert.equal(methodOfPath('/v1/models/Bad Name:predict'), 'POST');
    assert.equal(methodOfPath('/v1/models/m/versions/abc:regress'), 'POST');
    assert.equal(methodOfPath('/v1/models/m/versions/abc'), 'GET');
    assert.equal(methodOfPath('/v1/models/__proto__/metadata'), 'GET');
    assert.equal(methodOfPath('/v2/models/__proto__/versions/x y/infer'), 'POST');
    assert.equal(methodOfPath('/v2/models/__proto__/ready'), 'GET');
    assert.equal(methodOfPath('/mscr/models/..%2F/classify'), 'POST');
    assert.equal(methodOfPath('/v1/models/m:explain'), undefined);
    assert.equal(methodOfPath('/elsewhere'), undefined);
  });

  test('training routes: POST /mscr/train, GET /mscr/train/{id}, POST /mscr/models/{m}/evaluate', () => {
    assert.deepEqual(matchRoute('/mscr/train'), { api: 'mscr', kind: 'train', method: 'POST' });
    assert.deepEqual(matchRoute('/mscr/train/goog~20261203T181500Z-0a1b2c3d'), {
      api: 'mscr',
      kind: 'train-status',
      method: 'GET',
      id: 'goog~20261203T181500Z-0a1b2c3d',
    });
    assert.deepEqual(matchRoute('/mscr/models/goog/evaluate'), {
      api: 'mscr',
      kind: 'evaluate',
      method: 'POST',
      model: 'goog',
    });
    assert.equal(matchRoute('/mscr/train/a/b'), undefined);
    assert.equal(matchRoute('/mscr/models/goog/versions/2/evaluate'), undefined);
    assert.equal(methodOfPath('/mscr/train'), 'POST');
    assert.equal(methodOfPath('/mscr/train/x'), 'GET');
    assert.equal(methodOfPath('/mscr/models/Bad Name/evaluate'), 'POST');
    assert.equal(
      mscrTrainRunPath('goog~20261203T181500Z-0a1b2c3d'),
      '/mscr/train/goog~20261203T181500Z-0a1b2c3d',
    );
    assert.equal(mscrEvaluatePath('goog'), '/mscr/models/goog/evaluate');
    assert.throws(() => matchRoute('/mscr/train/%E0%A4%A'), badRequest(/percent-encoding/));
  });

  test('builders refuse what no route could carry', () => {
    assert.throws(() => v2InferPath('a/b'), badRequest(/invalid model name/));
    assert.throws(() => v1ModelPath('m', { version: 1.5 }), badRequest(/positive integers/));
    assert.throws(() => v1ModelPath('m', { label: '../x' }), badRequest(/invalid alias name/));
  });
});
