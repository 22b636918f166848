/** Cutting price CSVs into windows (on the real GOOG file), binary tensors, and small helpers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { sharedData } from '../../tests/shared-data.ts';
import {
  columnValues,
  decodeInferResponse,
  encodeBinaryInferRequest,
  mapLimit,
  parseSeriesCsv,
  rmse,
  slidingWindows,
  targetColumnIndex,
  toFileLines,
} from '../index.ts';

test('the GOOG file: columns from its "# Open,...,Close" comment, newest-first rows reversed', async () => {
  const text = await readFile(sharedData('stock/goog_daily.csv'), 'utf8');
  const series = parseSeriesCsv(text, 'newest-first');
  assert.deepEqual(series.columns, ['Open', 'High', 'Low', 'Volume', 'Close']);
  assert.equal(series.rows.length, 732);
  // The file's first data row (the newest day) is last now.
  assert.deepEqual(series.rows.at(-1), [
    '828.659973',
    '833.450012',
    '828.349976',
    '1247700',
    '831.659973',
  ]);
  const windows = slidingWindows(series, 7);
  assert.equal(windows.length, 726);
  assert.equal(windows[0]?.index, 7);
  assert.equal(windows.at(-1)?.index, 732, 'the last window forecasts the day after the file');
  const lines = (windows.at(-1)?.csv ?? '').trim().split('\n');
  assert.equal(lines[0], 'Open,High,Low,Volume,Close');
  assert.equal(lines.length, 8);
  assert.equal(lines[7], '828.659973,833.450012,828.349976,1247700,831.659973');
  const close = targetColumnIndex(series, 'Close');
  assert.deepEqual(close, { index: 4, guessed: false });
  assert.equal(columnValues(series, close.index).at(-1), 831.659973);
});

test('a header row with a Date column; blank lines, CRLF and quotes', () => {
  const series = parseSeriesCsv(
    'Date,Open,Close\r\n"2024-01-01",1,2\r\n\r\n2024-01-02,3,4\r\n2024-01-03,5,6\r\n',
  );
  assert.deepEqual(series.columns, ['Date', 'Open', 'Close']);
  assert.deepEqual(series.rows, [
    ['2024-01-01', '1', '2'],
    ['2024-01-02', '3', '4'],
    ['2024-01-03', '5', '6'],
  ]);
  assert.deepEqual(
    slidingWindows(series, 2).map((w) => w.csv),
    [
      'Date,Open,Close\n2024-01-01,1,2\n2024-01-02,3,4\n',
      'Date,Open,Close\n2024-01-02,3,4\n2024-01-03,5,6\n',
    ],
  );
  assert.deepEqual(columnValues(series, 0), [NaN, NaN, NaN]);
});

test("the server's line numbers (of a window) become the file's", () => {
  // Newest first: file lines 3..6 hold days 4, 3, 2, 1.
  const series = parseSeriesCsv('# prices\nOpen,Close\n4,4\n3,3\n2,2\n1,1\n', 'newest-first');
  assert.deepEqual(series.lines, { rows: [6, 5, 4, 3], header: 2 });
  const [first, second] = slidingWindows(series, 3);
  assert.deepEqual(first?.fileLines, [2, 6, 5, 4]);
  assert.equal(first?.csv, 'Open,Close\n1,1\n2,2\n3,3\n');
  assert.equal(
    toFileLines('line 3, column Close: "x" is not a number', second as never),
    'line 4 of the file, column Close: "x" is not a number',
  );
  assert.equal(
    toFileLines('line 9 is out of the window', second as never),
    'line 9 is out of the window',
  );
});

test('no header: the last column is the guessed target', () => {
  const series = parseSeriesCsv('1,2\n3,4\n');
  assert.equal(series.columns, undefined);
  assert.deepEqual(targetColumnIndex(series, 'Close'), { index: 1, guessed: true });
  assert.deepEqual(targetColumnIndex(series, 0), { index: 0, guessed: false });
  assert.throws(() => targetColumnIndex(series, 5), /out of range/);
});

test('bad CSVs are input errors naming the problem', () => {
  assert.throws(() => parseSeriesCsv('# only a comment\n'), /no data rows/);
  assert.throws(
    () => parseSeriesCsv('1,2\n3,4,5\n'),
    /line 2 has 3 fields; the lines before it have 2/,
  );
  assert.throws(
    () => parseSeriesCsv('a,b,c\n1,2\n'),
    /header names 3 columns but the data rows have 2/,
  );
  assert.throws(() => slidingWindows(parseSeriesCsv('1\n2\n'), 7), /2 data rows; .* window of 7/);
});

test('rmse skips pairs without both values', () => {
  assert.equal(rmse([{ actual: 1, predicted: 3 }, { actual: 2 }, { predicted: 1 }]), 2);
  assert.equal(rmse([]), undefined);
});

test('mapLimit keeps order, respects the limit, and stops at the first failure', async () => {
  let running = 0;
  let peak = 0;
  const results = await mapLimit([5, 1, 3, 2, 4], 2, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((resolve) => setTimeout(resolve, n * 3));
    running--;
    return n * 10;
  });
  assert.deepEqual(results, [50, 10, 30, 20, 40]);
  assert.equal(peak, 2);
  const started: number[] = [];
  await assert.rejects(
    mapLimit([1, 2, 3, 4, 5, 6], 1, async (n) => {
      started.push(n);
      if (n === 2) throw new Error('boom');
      return n;
    }),
    /boom/,
  );
  assert.deepEqual(started, [1, 2]);
});

test('binary tensors: FP32 inputs as little-endian bytes after the JSON header, outputs decoded back', () => {
  const { body, headerLength } = encodeBinaryInferRequest({
    id: 'x',
    inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [[0.5, -1, 2.25, 3]] }],
  });
  const header = JSON.parse(new TextDecoder().decode(body.subarray(0, headerLength)));
  assert.deepEqual(header, {
    id: 'x',
    inputs: [
      { name: 'features', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } },
    ],
    parameters: { binary_data_output: true },
  });
  const values = new DataView(body.buffer, body.byteOffset + headerLength, 16);
  assert.deepEqual(
    [0, 4, 8, 12].map((o) => values.getFloat32(o, true)),
    [0.5, -1, 2.25, 3],
  );

  // An answer in the same form: header, then two FP32 values.
  const answerHeader = new TextEncoder().encode(
    JSON.stringify({
      model_name: 'm',
      outputs: [
        {
          name: 'probabilities',
          shape: [1, 2],
          datatype: 'FP32',
          parameters: { binary_data_size: 8 },
        },
      ],
    }),
  );
  const answer = new Uint8Array(answerHeader.length + 8);
  answer.set(answerHeader);
  const view = new DataView(answer.buffer, answerHeader.length);
  view.setFloat32(0, 0.25, true);
  view.setFloat32(4, 0.75, true);
  const decoded = decodeInferResponse(answer, String(answerHeader.length));
  assert.deepEqual(decoded.outputs[0], {
    name: 'probabilities',
    shape: [1, 2],
    datatype: 'FP32',
    data: [0.25, 0.75],
  });
  assert.throws(() => decodeInferResponse(answer, '99999'), /Inference-Header-Content-Length/);
});
