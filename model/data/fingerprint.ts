/**
 * Data fingerprints: sha256 over the content in a stable order, so the same data gives the
 * same fingerprint wherever it was loaded from (sources are not part of it).
 */
import { createHash } from 'node:crypto';

/** sha256 hex over image pixels, labels (int32 little-endian) and the shape and class names. */
export function fingerprintImages(data: {
  pixels: Uint8Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  classNames: string[];
}): string {
  const hash = createHash('sha256');
  const { count, height, width, channels, classNames } = data;
  hash.update(JSON.stringify({ kind: 'image', count, height, width, channels, classNames }));
  hash.update(data.pixels);
  const labels = Buffer.alloc(data.labels.length * 4);
  data.labels.forEach((label, i) => labels.writeInt32LE(label, i * 4));
  hash.update(labels);
  return hash.digest('hex');
}

/** sha256 hex over the column names and every value (float64 little-endian, row by row). */
export function fingerprintTable(data: { columns: string[]; rows: number[][] }): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ kind: 'table', columns: data.columns, rows: data.rows.length }));
  const row = Buffer.alloc(data.columns.length * 8);
  for (const values of data.rows) {
    values.forEach((value, c) => row.writeDoubleLE(value, c * 8));
    hash.update(row);
  }
  return hash.digest('hex');
}
