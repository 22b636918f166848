/**
 * Image-folder loader: `labels.csv` (`filename,label_index,label_name`) plus the image files
 * it names (JPEG, PNG, ...), decoded with sharp into one `ImageDataset`.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { MscrError } from '../../connectors/errors.ts';
import { decodeImage, readImageSize } from '../../connectors/ms/decode-image.ts';
import { fingerprintImages } from './fingerprint.ts';
import { mapWithConcurrency } from './concurrency.ts';
import { LABELS_FILE, parseLabelsCsv, type LabelRow } from './labels-csv.ts';
import { resolveDataPath } from './resolve-path.ts';
import type { ImageDataset } from './types.ts';

export interface ImageFolderOptions {
  /** Target size. Both or neither; default: the first image's size, which all must then have. */
  height?: number;
  width?: number;
  /** 3 (sRGB, default) or 1 (grey). */
  channels?: 1 | 3;
  /** Load only the first `limit` rows of labels.csv (class names still come from every row). */
  limit?: number;
  /** Images decoded at once (default 8). */
  concurrency?: number;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function checkFilename(row: LabelRow, where: string): void {
  if (isAbsolute(row.filename) || row.filename.split(/[\\/]/).includes('..')) {
    throw new MscrError(
      'bad_data',
      `${where}:${row.line}: filename ${JSON.stringify(row.filename)} must be a relative path inside the folder`,
    );
  }
}

/**
 * The folder that filenames are relative to. Normally the folder holding labels.csv. Some
 * layouts (the shared `cifar10/train/labels.csv`) write them relative to the parent folder
 * (`train/images/...`): when every filename starts with the folder's own name and the first
 * one is found under the parent but not under the folder, the parent is used for all rows.
 */
async function baseFolder(folder: string, rows: LabelRow[]): Promise<string> {
  const first = rows[0];
  if (first === undefined || (await isFile(join(folder, first.filename)))) return folder;
  const prefix = `${basename(folder)}/`;
  const allPrefixed = rows.every((row) => row.filename.replace(/\\/g, '/').startsWith(prefix));
  if (allPrefixed && (await isFile(join(dirname(folder), first.filename)))) return dirname(folder);
  return folder;
}

export async function loadImageFolder(
  uriOrPath: string,
  options: ImageFolderOptions = {},
): Promise<ImageDataset> {
  const folder = resolveDataPath(uriOrPath);
  const channels = options.channels ?? 3;
  if ((options.height === undefined) !== (options.width === undefined)) {
    throw new MscrError('config', 'give both height and width, or neither');
  }
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit > 0)) {
    throw new MscrError('config', `limit must be a positive integer, got ${options.limit}`);
  }
  let folderStat;
  try {
    folderStat = await stat(folder);
  } catch {
    throw new MscrError('not_found', `image folder ${folder} does not exist`);
  }
  if (!folderStat.isDirectory()) {
    throw new MscrError('bad_data', `${folder} is not a folder`);
  }
  const labelsPath = join(folder, LABELS_FILE);
  let labelsText: string;
  try {
    labelsText = await readFile(labelsPath, 'utf8');
  } catch {
    throw new MscrError('not_found', `image folder ${folder} has no ${LABELS_FILE}`);
  }
  const { rows: allRows, classNames } = parseLabelsCsv(labelsText, labelsPath);
  const rows = options.limit === undefined ? allRows : allRows.slice(0, options.limit);
  rows.forEach((row) => checkFilename(row, labelsPath));
  const base = await baseFolder(folder, rows);

  const read = async (row: LabelRow): Promise<{ bytes: Uint8Array; path: string }> => {
    const path = join(base, row.filename);
    try {
      return { bytes: await readFile(path), path };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new MscrError(
        code === 'ENOENT' ? 'not_found' : 'bad_data',
        `${labelsPath}:${row.line}: image ${row.filename} ${code === 'ENOENT' ? `does not exist (looked for ${path})` : `cannot be read: ${String(error)}`}`,
        { cause: error },
      );
    }
  };

  let height = options.height;
  let width = options.width;
  const resize = height !== undefined;
  if (height === undefined || width === undefined) {
    const first = await read(rows[0] as LabelRow);
    ({ height, width } = await readImageSize(first.bytes, { source: first.path }));
  }
  const size = height * width * channels;
  const pixels = new Uint8Array(rows.length * size);
  const labels = new Int32Array(rows.length);
  const target = { height, width, channels };
  await mapWithConcurrency(rows, options.concurrency ?? 8, async (row, i) => {
    const { bytes, path } = await read(row);
    const image = await decodeImage(bytes, { ...target, resize, source: path });
    pixels.set(image, i * size);
    labels[i] = row.label;
  });
  const data = { pixels, labels, count: rows.length, height, width, channels, classNames };
  return { kind: 'image', ...data, sources: [folder], fingerprint: fingerprintImages(data) };
}
