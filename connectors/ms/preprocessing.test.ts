import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError } from '../errors.ts';
import type { ImagePreprocessing, SeriesPreprocessing, TabularPreprocessing } from './manifest.ts';
import {
  imagePixelsToInput,
  scaleRows,
  scaleTarget,
  seriesRowsToInput,
  tabularRowToInput,
  unscaleTarget,
} from './preprocessing.ts';

const badRequest = (error: unknown): boolean => isMscrError(error, 'bad_request');

describe('imagePixelsToInput', () => {
  const pixels = Uint8Array.from([0, 51, 255, 255, 102, 0]); // 1x2 RGB
  const rescale: ImagePreprocessing = {
    kind: 'image',
    height: 1,
    width: 2,
    channels: 3,
    normalization: { type: 'rescale' },
  };

  test('rescale divides by 255', () => {
    assert.deepEqual(
      Array.from(imagePixelsToInput(pixels, rescale)),
      Array.from(Float32Array.from([0, 0.2, 1, 1, 0.4, 0])),
    );
  });

  test('standardize is per channel and inverts back to the pixels', () => {
    const mean = [0.5, 0.25, 0.1];
    const std = [0.5, 0.2, 0.3];
    const spec: ImagePreprocessing = {
      ...rescale,
      normalization: { type: 'standardize', mean, std },
    };
    const out = imagePixelsToInput(pixels, spec);
    assert.ok(Math.abs((out[0] as number) - -1) < 1e-6);
    assert.ok(Math.abs((out[2] as number) - (1 - 0.1) / 0.3) < 1e-6);
    const back = Array.from(
      out,
      (v, i) => Math.round((v * (std[i % 3] as number) + (mean[i % 3] as number)) * 255) + 0,
    );
    assert.deepEqual(back, Array.from(pixels));
  });

  test('NCHW puts each channel plane first, per image; scale replaces 1/255', () => {
    // Two images of 1x2 pixels, HWC: [r g b][r g b] each.
    const two = Uint8Array.from([1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60]);
    const spec: ImagePreprocessing = { ...rescale, layout: 'NCHW', scale: 1 };
    assert.deepEqual(
      Array.from(imagePixelsToInput(two, spec)),
      [1, 4, 2, 5, 3, 6, 10, 40, 20, 50, 30, 60],
    );
    const standardized: ImagePreprocessing = {
      ...spec,
      scale: 0.5,
      normalization: { type: 'standardize', mean: [1, 2, 3], std: [1, 1, 0.5] },
    };
    // (x * 0.5 - mean[c]) / std[c], then channels first.
    assert.deepEqual(
      Array.from(imagePixelsToInput(two.subarray(0, 6), standardized)),
      [-0.5, 1, -1, 0.5, -3, 0],
    );
  });

  test('accepts several images back to back, refuses a wrong length', () => {
    const two = new Uint8Array(12).fill(255);
    assert.equal(imagePixelsToInput(two, rescale).length, 12);
    assert.throws(() => imagePixelsToInput(new Uint8Array(5), rescale), badRequest);
    assert.throws(() => imagePixelsToInput(new Uint8Array(0), rescale), /expected a multiple of 6/);
  });
});

describe('series and tabular scaling', () => {
  const spec: SeriesPreprocessing = {
    kind: 'series',
    columns: ['Open', 'Volume', 'Close'],
    target: 'Close',
    window: 3,
    scaler: { type: 'minmax', min: [100, 1000, 90], max: [200, 1000, 190] },
  };
  const rows = [
    [100, 1000, 90],
    [150, 1000, 140],
    [200, 1000, 190],
  ];

  test('scaleRows min-max scales; a constant column becomes 0 without dividing by zero', () => {
    assert.deepEqual(scaleRows(rows, spec), [
      [0, 0, 0],
      [0.5, 0, 0.5],
      [1, 0, 1],
    ]);
    assert.deepEqual(scaleRows([[250, 1001, 40]], spec), [[1.5, 1, -0.5]]);
  });

  test('target round trip: scale then unscale gives the original units', () => {
    for (const price of [90, 123.45, 190, 250.5]) {
      const scaled = scaleTarget(price, spec);
      assert.ok(Math.abs(unscaleTarget(scaled, spec) - price) < 1e-9);
    }
    assert.equal(unscaleTarget(0.5, spec), 140);
  });

  test('seriesRowsToInput flattens one scaled window', () => {
    const input = seriesRowsToInput(rows, spec);
    assert.ok(input instanceof Float32Array);
    assert.deepEqual(Array.from(input), [0, 0, 0, 0.5, 0, 0.5, 1, 0, 1]);
  });

  test('seriesRowsToInput refuses wrong windows with bad_request', () => {
    assert.throws(
      () => seriesRowsToInput(rows.slice(0, 2), spec),
      /2 rows; expected a window of 3/,
    );
    assert.throws(
      () => seriesRowsToInput([...rows.slice(0, 2), [1, 2]], spec),
      /row 2 has 2 values; expected 3/,
    );
    assert.throws(
      () => seriesRowsToInput([...rows.slice(0, 2), [1, Number.NaN, 3]], spec),
      /column Volume: null is not a finite number/,
    );
    const withText = [...rows.slice(0, 2), [1, '2', 3]] as unknown as number[][];
    assert.throws(() => seriesRowsToInput(withText, spec), badRequest);
  });

  test('tabularRowToInput scales one row; unknown target is refused', () => {
    const tabular: TabularPreprocessing = {
      kind: 'tabular',
      columns: spec.columns,
      target: 'Close',
      scaler: spec.scaler,
    };
    assert.deepEqual(Array.from(tabularRowToInput([150, 1000, 140], tabular)), [0.5, 0, 0.5]);
    assert.throws(() => tabularRowToInput([1, 2], tabular), badRequest);
    assert.throws(() => unscaleTarget(1, { ...tabular, target: 'High' }), badRequest);
  });
});
