import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { isMscrError } from '../../connectors/errors.ts';
import { decodeImage } from '../../connectors/ms/decode-image.ts';
import type { SeriesPreprocessing } from '../../connectors/ms/manifest.ts';
import { imagePixelsToInput, seriesRowsToInput } from '../../connectors/ms/preprocessing.ts';
import { sharedData } from '../../tests/shared-data.ts';
import {
  decodeCsvWindow,
  readCsvWindow,
  decodeImageBody,
  encodeClassifyResponse,
  encodeForecastResponse,
  forecastFromOutput,
  parseCsvOrder,
  parseTopK,
  topK,
} from './convenience.ts';
import { toErrorResponse } from './errors.ts';
import { CIFAR_LABELS, cifarManifest, stockManifest } from './test-manifests.ts';

function rejects(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isMscrError(error, 'bad_request'), `expected bad_request, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  };
}

const spec = stockManifest.preprocessing as SeriesPreprocessing;

describe('decodeImageBody', () => {
  let jpeg: Buffer;
  before(async () => {
    jpeg = await readFile(sharedData('cifar10/images/cat_0003.jpg'));
  });

  test('a real CIFAR-10 JPEG -> the model input, exactly as decodeImage + imagePixelsToInput', async () => {
    const input = await decodeImageBody(jpeg, cifarManifest);
    assert.equal(input.length, 32 * 32 * 3);
    assert.ok(input.every((v) => v >= 0 && v <= 1));
    const pixels = await decodeImage(jpeg, { height: 32, width: 32, channels: 3 });
    assert.deepEqual(
      input,
      imagePixelsToInput(pixels, {
        kind: 'image',
        height: 32,
        width: 32,
        channels: 3,
        normalization: { type: 'rescale' },
      }),
    );
  });

  test('another size and format is resized like any photo', async () => {
    const png = await sharp(jpeg).resize(64, 48).png().toBuffer();
    const input = await decodeImageBody(png, cifarManifest);
    assert.equal(input.length, 3072);
  });

  test('undecodable or empty bytes are a bad_request with the reason', async () => {
    await assert.rejects(
      decodeImageBody(new Uint8Array(0), cifarManifest),
      rejects(/is empty: send the image file's bytes/),
    );
    await assert.rejects(
      decodeImageBody(Buffer.from('Open,High\n1,2\n'), cifarManifest),
      rejects(/the posted image is not an image format this server recognises/),
    );
    await assert.rejects(
      decodeImageBody(jpeg.subarray(0, 300), cifarManifest),
      rejects(/cannot decode/),
    );
    await assert.rejects(
      decodeImageBody(jpeg, cifarManifest, { maxInputPixels: 100 }),
      rejects(/cannot decode image: Input image exceeds pixel limit.*of at most 100 pixels/),
    );
  });

  test('a model that is not an image model says so', async () => {
    await assert.rejects(
      decodeImageBody(jpeg, stockManifest),
      rejects(/'goog-lstm' is a series-forecast model, not an image model/),
    );
  });
});

describe('topK and the classify answer', () => {
  test('best first, ties by class index, k beyond the classes returns them all', () => {
    const p = Float32Array.from([0.1, 0.3, 0.3, 0.2, 0.1]);
    assert.deepEqual(topK(p, ['a', 'b', 'c', 'd', 'e'], 3), [
      { label: 'b', score: 0.3 },
      { label: 'c', score: 0.3 },
      { label: 'd', score: 0.2 },
    ]);
    assert.equal(topK(p, [], 10).length, 5);
    assert.equal(topK(p, [], 1)[0]?.label, '1'); // no labels: the class index
    assert.throws(() => topK(p, [], 0), rejects(/k must be a positive integer/));
  });

  test('parseTopK reads a query value', () => {
    assert.equal(parseTopK(undefined), 5);
    assert.equal(parseTopK('3'), 3);
    for (const bad of ['0', '-1', '2.5', 'all', '1e3', ['3']]) {
      assert.throws(() => parseTopK(bad), rejects(/top must be a positive integer/));
    }
  });

  test('one top-k list per image, labels from the manifest', () => {
    const probs = new Float32Array(20);
    probs[3] = 0.9; // cat
    probs[5] = 0.1;
    probs[10 + 8] = 0.6; // ship
    probs[10 + 0] = 0.4;
    const response = encodeClassifyResponse(
      cifarManifest,
      4,
      { name: 'probabilities', shape: [2, 10], data: probs },
      2,
      ['id-a', 'id-b'],
    );
    assert.deepEqual(response, {
      model: 'cifar10-cnn',
      version: 4,
      predictions: [
        [
          { label: 'cat', score: 0.9 },
          { label: 'dog', score: 0.1 },
        ],
        [
          { label: 'ship', score: 0.6 },
          { label: 'airplane', score: 0.4 },
        ],
      ],
      predictionIds: ['id-a', 'id-b'],
    });
    assert.equal(CIFAR_LABELS.length, 10);
  });
});

describe('decodeCsvWindow on the real GOOG file', () => {
  let text: string;
  let dataLines: string[]; // as in the file: newest first
  before(async () => {
    text = await readFile(sharedData('stock/goog_daily.csv'), 'utf8');
    dataLines = text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.startsWith('#'));
  });
  const rowsOf = (lines: string[]): number[][] => lines.map((line) => line.split(',').map(Number));

  test('newest-first (the Yahoo export order): the first 7 rows, turned oldest first', () => {
    assert.equal(dataLines.length, 732);
    const input = decodeCsvWindow(text, stockManifest, { order: 'newest-first' });
    assert.deepEqual(input, seriesRowsToInput(rowsOf(dataLines.slice(0, 7)).reverse(), spec));
    assert.equal(input.length, 7 * 5);
  });

  test('oldest-first (the default): the last 7 rows of the file', () => {
    const chronological = ['# GOOG, oldest first', ...[...dataLines].reverse()].join('\n');
    const input = decodeCsvWindow(chronological, stockManifest);
    assert.deepEqual(input, decodeCsvWindow(text, stockManifest, { order: 'newest-first' }));
    assert.deepEqual(
      decodeCsvWindow(text, stockManifest),
      seriesRowsToInput(rowsOf(dataLines.slice(-7)), spec),
    );
  });

  test('exactly a window, with a header naming the columns in another order and a Date column', () => {
    const week = rowsOf(dataLines.slice(0, 7)).reverse(); // oldest first
    const csv = [
      'Date,Close,Volume,Open,Low,High',
      ...week.map(
        ([open, high, low, volume, close], i) =>
          `2017-01-${10 + i},${close},${volume},${open},${low},${high}`,
      ),
    ].join('\r\n');
    assert.deepEqual(decodeCsvWindow(csv, stockManifest), seriesRowsToInput(week, spec));
    // The rows as read, in the manifest's column order, oldest first: what feedback keeps.
    assert.deepEqual(readCsvWindow(csv, stockManifest).rows, week);
  });

  test('errors name the line and the column', () => {
    const week = dataLines.slice(0, 7);
    const cases: [string, RegExp][] = [
      [
        week.slice(0, 3).join('\n'),
        /the CSV has 3 data rows; the model needs a window of 7 rows \(Open,High,Low,Volume,Close\), oldest first/,
      ],
      ['', /the CSV has 0 data rows/],
      [
        ['# comment', ...week.slice(0, 2), '828.1,NaN,820,1000,825', ...week.slice(3)].join('\n'),
        /line 4, column High: "NaN" is not a number/,
      ],
      [
        ['# comment', week[0], '828.1,,820,1000,825'].join('\n'),
        /line 3, column High: the cell is empty/,
      ],
      [[week[0], '828.1,830,820,1000'].join('\n'), /line 2 has 4 fields; expected 5/],
      [
        '828.1,830,820,1000\n',
        /line 1 has 4 fields; the model needs 5 columns \(Open,High,Low,Volume,Close\) in this order, or a header row/,
      ],
      [
        ['Date,Open,High,Low,Volume', ...week].join('\n'),
        /line 1 looks like a header .* but has no column Close/,
      ],
      [['Open,High,Low,Volume,Close,Close', ...week].join('\n'), /header names column Close twice/],
      [
        [...week.slice(0, 6), '1e999,1,1,1,1'].join('\n'),
        /line 7, column Open: 1e999 is out of range/,
      ],
    ];
    for (const [csv, pattern] of cases) {
      assert.throws(() => decodeCsvWindow(csv, stockManifest), rejects(pattern), pattern.source);
    }
    assert.throws(
      () => decodeCsvWindow(week.join('\n'), cifarManifest),
      rejects(/not a series model/),
    );
  });

  test('parseCsvOrder reads a query value', () => {
    assert.equal(parseCsvOrder(undefined), 'oldest-first');
    assert.equal(parseCsvOrder('newest-first'), 'newest-first');
    assert.throws(
      () => parseCsvOrder('reverse'),
      rejects(/order must be oldest-first or newest-first/),
    );
  });
});

describe('forecasts in original units', () => {
  test('forecastFromOutput undoes the target scaling', () => {
    const [lo, hi] = [492.552, 835.67]; // Close min and max of the scaler
    assert.ok(Math.abs(forecastFromOutput(0, stockManifest) - lo) < 1e-9);
    assert.ok(Math.abs(forecastFromOutput(1, stockManifest) - hi) < 1e-9);
    assert.ok(Math.abs(forecastFromOutput(0.5, stockManifest) - (lo + hi) / 2) < 1e-9);
    assert.throws(() => forecastFromOutput(0.5, cifarManifest), rejects(/image model/));
    assert.throws(
      () => forecastFromOutput(NaN, stockManifest),
      (e: unknown) => isMscrError(e, 'internal'),
    );
  });

  test('encodeForecastResponse: one value per window', () => {
    const response = encodeForecastResponse(
      stockManifest,
      2,
      { name: 'forecast', shape: [2, 1], data: Float32Array.from([0, 1]) },
      ['id-a', 'id-b'],
    );
    assert.deepEqual(response.predictionIds, ['id-a', 'id-b']);
    assert.equal(response.model, 'goog-lstm');
    assert.equal(response.version, 2);
    assert.equal(response.target, 'Close');
    assert.equal(response.forecast.length, 2);
    assert.ok(Math.abs((response.forecast[1] as number) - 835.67) < 1e-6);
  });
});

test('toErrorResponse: MscrError keeps its status and message; anything else is a quiet 500', () => {
  try {
    topK([], [], -1);
  } catch (error) {
    assert.deepEqual(toErrorResponse(error), {
      status: 400,
      body: { error: 'k must be a positive integer, got -1' },
    });
  }
  assert.deepEqual(toErrorResponse(new TypeError('/srv/secret/path exploded')), {
    status: 500,
    body: { error: 'internal server error' },
  });
});
