import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMscrError } from '../../connectors/errors.ts';
import { loadNumericCsv, parseNumericCsv } from './numeric-csv.ts';
import { sharedData } from '../../tests/shared-data.ts';

const goog = sharedData('stock/goog_daily.csv');

describe('loadNumericCsv on the real GOOG file', () => {
  test('732 rows of 5 named columns, oldest first by default', async () => {
    const table = await loadNumericCsv(goog);
    assert.equal(table.kind, 'table');
    assert.deepEqual(table.columns, ['Open', 'High', 'Low', 'Volume', 'Close']);
    assert.equal(table.rows.length, 732);
    assert.ok(table.rows.every((row) => row.length === 5));
    // The file's last line is the oldest day, its first data line the newest.
    assert.deepEqual(table.rows[0], [568.00257, 568.00257, 552.922516, 13100, 558.462551]);
    assert.deepEqual(table.rows[731], [828.659973, 833.450012, 828.349976, 1247700, 831.659973]);
    assert.deepEqual(table.sources, [goog]);
    assert.match(table.fingerprint, /^[0-9a-f]{64}$/);
    const close = table.rows.map((row) => row[4] as number);
    assert.equal(Math.min(...close), 492.552239);
    assert.equal(Math.max(...close), 835.669983);
    // Sanity of the prices: Low <= Open, Close <= High on every day.
    for (const [open, high, low, , closing] of table.rows as [
      number,
      number,
      number,
      number,
      number,
    ][]) {
      assert.ok(low <= Math.min(open, closing) && high >= Math.max(open, closing));
    }
  });

  test('order oldest-first keeps the file order; column selection; stable fingerprint', async () => {
    const asIs = await loadNumericCsv(`file://${goog}`, { order: 'oldest-first' });
    assert.deepEqual(asIs.rows[0], [828.659973, 833.450012, 828.349976, 1247700, 831.659973]);
    const closeOnly = await loadNumericCsv(goog, { columns: ['Close', 'Open'] });
    assert.deepEqual(closeOnly.columns, ['Close', 'Open']);
    assert.deepEqual(closeOnly.rows[0], [558.462551, 568.00257]);
    assert.equal(
      (await loadNumericCsv(goog)).fingerprint,
      (await loadNumericCsv(goog)).fingerprint,
    );
    assert.notEqual(asIs.fingerprint, (await loadNumericCsv(goog)).fingerprint);
  });
});

describe('loadNumericCsv formats and errors', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mscr-csv-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const file = async (name: string, text: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  const badData = (pattern: RegExp) => (error: unknown) =>
    isMscrError(error, 'bad_data') && pattern.test(error.message);

  test('header auto-detected, LF, oldest-first', async () => {
    const path = await file('header.csv', 'a,b\n1,2\n3,4.5e1\n\n');
    const table = await loadNumericCsv(path, { order: 'oldest-first' });
    assert.deepEqual(table.columns, ['a', 'b']);
    assert.deepEqual(table.rows, [
      [1, 2],
      [3, 45],
    ]);
    // hasHeader false on a file with a text first row: the text is a bad cell.
    await assert.rejects(
      loadNumericCsv(path, { hasHeader: false }),
      badData(/header\.csv:1: column 1 \(field 1\): "a" is not a number/),
    );
  });

  test('no names: generated ones, or the columns option names them', () => {
    assert.deepEqual(parseNumericCsv('1,2\n3,4\n').columns, ['col1', 'col2']);
    const named = parseNumericCsv('1,2\n3,4\n', { columns: ['x', 'y'], order: 'oldest-first' });
    assert.deepEqual(named, {
      columns: ['x', 'y'],
      rows: [
        [1, 2],
        [3, 4],
      ],
    });
    assert.throws(
      () => parseNumericCsv('1,2\n', { columns: ['x'] }),
      /1 column names given for 2 fields/,
    );
  });

  test('a comment with commas that is not a column list is ignored', () => {
    const parsed = parseNumericCsv('# Note: prices in USD, volume in shares.\n1,2\n');
    assert.deepEqual(parsed.columns, ['col1', 'col2']);
  });

  test('order auto follows a date column', () => {
    assert.deepEqual(parseNumericCsv('date,v\n3,30\n2,20\n1,10\n', { order: 'auto' }).rows, [
      [1, 10],
      [2, 20],
      [3, 30],
    ]);
    assert.deepEqual(parseNumericCsv('date,v\n1,10\n2,20\n', { order: 'auto' }).rows, [
      [1, 10],
      [2, 20],
    ]);
    assert.deepEqual(parseNumericCsv('v\n1\n2\n', { order: 'auto' }).rows, [[2], [1]]);
    assert.throws(
      () => parseNumericCsv('date,v\n1,1\n3,1\n2,1\n', { order: 'auto' }),
      /neither increasing nor decreasing/,
    );
  });

  test('bad cells and rows name the editor line (comments counted), column and value', async () => {
    const text = '# source\r\n# Open,Close\r\n1,2\r\n3,abc\r\n';
    await assert.rejects(
      loadNumericCsv(await file('cell.csv', text)),
      badData(/cell\.csv:4: column Close \(field 2\): "abc" is not a number/),
    );
    await assert.rejects(
      loadNumericCsv(await file('empty.csv', '# Open,Close\n1,2\n,4\n')),
      badData(/empty\.csv:3: column Open \(field 1\): empty cell/),
    );
    await assert.rejects(
      loadNumericCsv(await file('fields.csv', 'a,b\n1,2\n3,4,5\n')),
      badData(/fields\.csv:3: 3 fields; expected 2/),
    );
    await assert.rejects(
      loadNumericCsv(await file('nodata.csv', '# nothing\n')),
      badData(/no data rows/),
    );
    await assert.rejects(
      loadNumericCsv(await file('select.csv', 'a,b\n1,2\n'), { columns: ['c'] }),
      badData(/no column "c"; the file has a, b/),
    );
    await assert.rejects(loadNumericCsv(join(dir, 'missing.csv')), (error: unknown) =>
      isMscrError(error, 'not_found'),
    );
    await assert.rejects(loadNumericCsv('s3://bucket/prices.csv'), badData(/not supported yet/));
  });

  test('the GOOG file with LF endings gives the same table', async () => {
    const lf = await file('goog-lf.csv', readFileSync(goog, 'utf8').replace(/\r\n/g, '\n'));
    assert.equal((await loadNumericCsv(lf)).fingerprint, (await loadNumericCsv(goog)).fingerprint);
  });
});
