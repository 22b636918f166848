/**
 * The shared CSV reader (issue 15, item 2): the number grammar is unchanged, every hostile
 * shape of cell and text is read in one pass, and the limits are checked before parsing.
 *
 * The hostile inputs below took the old pattern from 19 s (100 KB of digits) to hours (8 MiB);
 * each test's timeout is a hang guard, not a speed assertion.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  csvCells,
  csvLines,
  CsvLimitExceeded,
  isDecimal,
  parseDecimal,
  REQUEST_CSV_LIMITS,
} from './index.ts';

/** The grammar as it was written before: safe on the short strings this test feeds it. */
const OLD_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

describe('isDecimal', () => {
  test('accepts and refuses what the old pattern did', () => {
    for (const yes of ['0', '-1', '+2', '3.', '.5', '1.5e3', '1E-3', '-.5e+2', '007', '1e0']) {
      assert.ok(isDecimal(yes), yes);
    }
    for (const no of [
      '',
      '+',
      '-',
      '.',
      'e3',
      '1e',
      '1e+',
      '1.2.3',
      ' 1',
      '1 ',
      'NaN',
      'Infinity',
      '0x10',
      '1_000',
      '١',
      '1,5',
      '--1',
      '+-1',
      '1e1.5',
    ]) {
      assert.ok(!isDecimal(no), JSON.stringify(no));
    }
  });

  test('agrees with the old pattern on random strings of number characters (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'0123456789+-.eE x'.split('')), maxLength: 14 }),
        (text) => isDecimal(text) === OLD_PATTERN.test(text),
      ),
      { numRuns: 20_000, seed: 15_002 },
    );
  });

  test('parseDecimal gives Number() of an accepted cell', () => {
    assert.equal(parseDecimal('-1.25e2'), -125);
    assert.equal(parseDecimal('1e999'), Infinity);
    assert.equal(parseDecimal('1x'), undefined);
  });

  test('8 MiB hostile cells are read in one pass', { timeout: 60_000 }, () => {
    const n = 8 * 1024 * 1024;
    const digits = '1'.repeat(n);
    const hostile = [
      `${digits}x`, // the reported shape: digits, then one bad character
      `${digits}.${digits.slice(0, 1000)}x`,
      `.${digits}x`,
      `1e${digits}x`,
      `-${digits}.${'2'.repeat(1000)}e`,
      `${'1.'.repeat(1000)}`,
    ];
    for (const cell of hostile) assert.equal(isDecimal(cell), false);
    assert.equal(isDecimal(digits), true);
  });
});

describe('csvLines', () => {
  const limits = { maxLineLength: 10, maxLines: 4 };

  test('splits LF and CRLF, drops a byte-order mark, keeps blank lines for numbering', () => {
    assert.deepEqual(csvLines('\uFEFFa,b\r\n\r\n1,2\n', limits), ['a,b', '', '1,2', '']);
    assert.deepEqual(csvLines('', limits), ['']);
    assert.deepEqual(csvLines('x\ry', limits), ['x\ry']);
  });

  test('a line over the limit is refused, naming it, before any cell is read', () => {
    assert.throws(
      () => csvLines('1,2\n12345678901\n', limits),
      (error: unknown) =>
        error instanceof CsvLimitExceeded &&
        /line 2 is 11 characters long; the limit is 10/.test(error.message),
    );
    // The CR of a CRLF ending is not part of the line.
    assert.deepEqual(csvLines('1234567890\r\n', limits), ['1234567890', '']);
  });

  test('more lines than the limit are refused', () => {
    assert.throws(() => csvLines('1\n2\n3\n4\n5', limits), /more than 4 lines/);
    assert.equal(csvLines('1\n2\n3\n4', limits).length, 4);
  });

  test(
    'the request limits refuse an 8 MiB single line and a million short lines',
    { timeout: 60_000 },
    () => {
      assert.throws(
        () => csvLines('1'.repeat(8 * 1024 * 1024), REQUEST_CSV_LIMITS),
        CsvLimitExceeded,
      );
      assert.throws(() => csvLines('1\n'.repeat(1_000_000), REQUEST_CSV_LIMITS), CsvLimitExceeded);
    },
  );
});

test('csvCells trims and unquotes once', () => {
  assert.deepEqual(csvCells(' 1, "2" ,""x"",'), ['1', '2', '"x"', '']);
});
