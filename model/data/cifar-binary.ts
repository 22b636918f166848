/**
 * CIFAR-10 binary batches (`data_batch_1.bin` .. `data_batch_5.bin`, `test_batch.bin`), as
 * published at https://www.cs.toronto.edu/~kriz/cifar.html: records of 1 label byte and
 * 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each a row-major 32x32 plane).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MscrError } from '../../connectors/errors.ts';
import { fingerprintImages } from './fingerprint.ts';
import { resolveDataPath } from './resolve-path.ts';
import type { ImageDataset } from './types.ts';

export const CIFAR10_CLASS_NAMES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];
export const CIFAR_SIDE = 32;
export const CIFAR_PLANE = CIFAR_SIDE * CIFAR_SIDE;
export const CIFAR_RECORD_SIZE = 1 + 3 * CIFAR_PLANE;
/** Class names file the CIFAR-10 binary distribution ships beside the batches. */
export const CIFAR_META_FILE = 'batches.meta.txt';

export interface CifarBinaryOptions {
  /** With a folder: the training batches `data_batch_N.bin` (default) or `test_batch.bin`. */
  split?: 'train' | 'test';
  /** Load at most this many records in all. */
  limit?: number;
}

const TRAIN_BATCH = /^data_batch_(\d+)\.bin$/;

async function batchFiles(folder: string, split: 'train' | 'test'): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    throw new MscrError('not_found', `CIFAR-10 folder ${folder} does not exist`);
  }
  const files =
    split === 'test'
      ? names.filter((name) => name === 'test_batch.bin')
      : names
          .filter((name) => TRAIN_BATCH.test(name))
          .sort((a, b) => Number(TRAIN_BATCH.exec(a)?.[1]) - Number(TRAIN_BATCH.exec(b)?.[1]));
  if (files.length === 0) {
    const wanted = split === 'test' ? 'test_batch.bin' : 'data_batch_N.bin';
    throw new MscrError('not_found', `CIFAR-10 folder ${folder} has no ${wanted} files`);
  }
  return files.map((name) => join(folder, name));
}

/** Class names from `batches.meta.txt` beside the first file, else the standard CIFAR-10 ones. */
async function classNamesFor(firstFile: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(dirname(firstFile), CIFAR_META_FILE), 'utf8');
  } catch {
    return [...CIFAR10_CLASS_NAMES];
  }
  const names = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (names.length === 0 || names.length > 256 || new Set(names).size !== names.length) {
    throw new MscrError(
      'bad_data',
      `${join(dirname(firstFile), CIFAR_META_FILE)}: expected 1..256 distinct class names, one a line`,
    );
  }
  return names;
}

/**
 * Loads CIFAR-10 binary batches: a list of files (paths or file:// URIs) or a folder holding
 * them. Pixels are converted from the planar layout to HWC.
 */
export async function loadCifarBinary(
  paths: string[] | string,
  options: CifarBinaryOptions = {},
): Promise<ImageDataset> {
  let files: string[];
  if (typeof paths === 'string') {
    const folder = resolveDataPath(paths);
    const info = await stat(folder).catch(() => undefined);
    if (info === undefined) throw new MscrError('not_found', `${folder} does not exist`);
    files = info.isDirectory() ? await batchFiles(folder, options.split ?? 'train') : [folder];
  } else {
    files = paths.map(resolveDataPath);
  }
  if (files.length === 0) throw new MscrError('bad_data', 'no CIFAR-10 batch files given');
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit > 0)) {
    throw new MscrError('config', `limit must be a positive integer, got ${options.limit}`);
  }
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const classNames = await classNamesFor(files[0] as string);

  const chunks: { bytes: Uint8Array; file: string }[] = [];
  let count = 0;
  for (const file of files) {
    if (count >= limit) break;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new MscrError(
        missing ? 'not_found' : 'bad_data',
        missing ? `CIFAR-10 batch ${file} does not exist` : `cannot read ${file}: ${String(error)}`,
        { cause: error },
      );
    }
    if (bytes.length === 0 || bytes.length % CIFAR_RECORD_SIZE !== 0) {
      throw new MscrError(
        'bad_data',
        `${file} is ${bytes.length} bytes, not a positive multiple of the CIFAR-10 record size ${CIFAR_RECORD_SIZE} (1 label byte + 3072 pixel bytes)`,
      );
    }
    const records = Math.min(bytes.length / CIFAR_RECORD_SIZE, limit - count);
    chunks.push({ bytes: bytes.subarray(0, records * CIFAR_RECORD_SIZE), file });
    count += records;
  }

  const size = 3 * CIFAR_PLANE;
  const pixels = new Uint8Array(count * size);
  const labels = new Int32Array(count);
  let n = 0;
  for (const { bytes, file } of chunks) {
    const records = bytes.length / CIFAR_RECORD_SIZE;
    for (let r = 0; r < records; r++, n++) {
      const offset = r * CIFAR_RECORD_SIZE;
      const label = bytes[offset] as number;
      if (label >= classNames.length) {
        throw new MscrError(
          'bad_data',
          `${file}: record ${r} (byte offset ${offset}) has label ${label}; expected 0..${classNames.length - 1}`,
        );
      }
      labels[n] = label;
      const out = n * size;
      for (let p = 0; p < CIFAR_PLANE; p++) {
        pixels[out + p * 3] = bytes[offset + 1 + p] as number;
        pixels[out + p * 3 + 1] = bytes[offset + 1 + CIFAR_PLANE + p] as number;
        pixels[out + p * 3 + 2] = bytes[offset + 1 + 2 * CIFAR_PLANE + p] as number;
      }
    }
  }
  const data = {
    pixels,
    labels,
    count,
    height: CIFAR_SIDE,
    width: CIFAR_SIDE,
    channels: 3 as const,
    classNames,
  };
  const sources = chunks.map((chunk) => chunk.file);
  return { kind: 'image', ...data, sources, fingerprint: fingerprintImages(data) };
}
