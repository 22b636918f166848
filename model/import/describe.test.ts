/** The importer's reading of a signature and flags: what serves, and what is refused and why. */
import { describe as suite, test } from 'node:test';
import assert from 'node:assert/strict';
import { describe, parseScale } from './describe.ts';

suite('describe', () => {
  test('guesses the task from the shapes; labels come from the model or are indices', () => {
    assert.equal(describe([-1, 30], [-1, 2], ['0', '1'], {}).task, 'tabular-classification');
    assert.equal(describe([-1, 10], [-1, 1], undefined, {}).task, 'regression');
    const image = describe([-1, 32, 32, 3], [-1, 10], undefined, {});
    assert.equal(image.task, 'image-classification');
    assert.deepEqual(image.labels, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual(image.preprocessing, {
      kind: 'image',
      height: 32,
      width: 32,
      channels: 3,
      normalization: { type: 'rescale' },
    });
    assert.equal(describe([-1, 8, 16], [-1, 8, 16], undefined, {}).task, 'raw');
  });

  test('image flags fix dynamic sizes, pick the layout, and are checked against the model', () => {
    const nchw = describe([-1, 3, -1, -1], [-1, 1000], undefined, {
      task: 'image-classification',
      image: { size: { height: 224, width: 160 }, mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] },
    });
    assert.deepEqual(nchw.inputShape, [-1, 3, 224, 160]);
    assert.deepEqual(nchw.preprocessing, {
      kind: 'image',
      height: 224,
      width: 160,
      channels: 3,
      layout: 'NCHW',
      normalization: { type: 'standardize', mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] },
    });
    assert.throws(
      () => describe([-1, 3, -1, -1], [-1, 10], undefined, { task: 'image-classification' }),
      /height is dynamic; pass --image-size/,
    );
    assert.throws(
      () =>
        describe([-1, 3, 224, 224], [-1, 10], undefined, {
          image: { size: { height: 32, width: 32 } },
        }),
      /height 32, which does not fit the model, whose height is 224/,
    );
    assert.throws(
      () => describe([-1, 3, 8, 8], [-1, 10], undefined, { image: { mean: [0.5], std: [0.2] } }),
      /--mean needs 3 numbers/,
    );
    assert.throws(
      () => describe([-1, 10], [-1, 1], undefined, { image: { size: { height: 8, width: 8 } } }),
      /image flags .* need a model that takes/,
    );
  });

  test('refuses what cannot serve: a fixed batch above 1, dynamic features, label mismatches', () => {
    assert.throws(() => describe([8, 4], [8, 2], undefined, {}), /batch dimension is fixed at 8/);
    assert.throws(
      () => describe([-1, -1], [-1, 2], undefined, {}),
      /number of features is dynamic/,
    );
    assert.deepEqual(
      describe([-1, -1], [-1, 2], undefined, { features: ['a', 'b', 'c'] }).inputShape,
      [-1, 3],
    );
    assert.throws(
      () => describe([-1, 4], [-1, 2], undefined, { features: ['a', 'b'] }),
      /--features names 2 features; the model takes 4/,
    );
    assert.throws(
      () => describe([-1, 4], [-1, 3], undefined, { labels: ['x', 'y'] }),
      /2 labels for 3 classes/,
    );
    assert.throws(
      () => describe([-1, 4, -1], [-1, 4], undefined, { task: 'raw' }),
      /dimension 2 of the input \[-1, 4, -1\] is dynamic/,
    );
    // A batch fixed at 1 serves (one row at a time).
    assert.deepEqual(describe([1, 4], [1, 1], undefined, {}).inputShape, [1, 4]);
  });

  test('parseScale reads numbers and fractions', () => {
    assert.equal(parseScale('1/255'), 1 / 255);
    assert.equal(parseScale('0.5'), 0.5);
    assert.equal(parseScale('1'), 1);
    for (const bad of ['', '0', '-1', '1/0', 'a/b', '1/2/3', '1/']) {
      assert.throws(() => parseScale(bad), /--scale must be/, bad);
    }
  });
});
