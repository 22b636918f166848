/** What the data loaders produce: in-memory datasets with their provenance and fingerprint. */

export interface ImageDataset {
  kind: 'image';
  /** Pixels 0..255, N*H*W*C, row-major HWC per image. */
  pixels: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: 1 | 3;
  /** Class index per image. */
  labels: Int32Array;
  /** Index -> class name. */
  classNames: string[];
  /** Where the data came from (paths or URIs). */
  sources: string[];
  /** sha256 hex over the decoded content + labels; stable for the same data. */
  fingerprint: string;
}

export interface NumericTable {
  kind: 'table';
  columns: string[];
  /** Oldest first (chronological) after loading. */
  rows: number[][];
  sources: string[];
  /** sha256 hex over the column names and values; stable for the same data. */
  fingerprint: string;
}

export type Dataset = ImageDataset | NumericTable;
