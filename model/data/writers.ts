/**
 * Writers for the loaders' own formats, so generated data goes through the real loaders:
 * an image folder (PNG files + labels.csv) and a numeric CSV.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { MscrError } from '../../connectors/errors.ts';
import { mapWithConcurrency } from './concurrency.ts';
import { LABELS_FILE, LABELS_HEADER } from './labels-csv.ts';
import type { ImageDataset, NumericTable } from './types.ts';

/** Writes `images/<class>_<NNNN>.png` (lossless) and `labels.csv`; returns the labels path. */
export async function writeImageFolder(dir: string, dataset: ImageDataset): Promise<string> {
  dataset.classNames.forEach((name) => {
    if (name === '' || /[,\r\n"]/.test(name) || name.trim() !== name) {
      throw new MscrError(
        'bad_data',
        `class name ${JSON.stringify(name)} cannot be written to labels.csv (no commas, quotes, line breaks or outer spaces)`,
      );
    }
  });
  await mkdir(join(dir, 'images'), { recursive: true });
  const size = dataset.height * dataset.width * dataset.channels;
  const perClass = new Map<number, number>();
  const filenames = Array.from(dataset.labels, (label) => {
    const n = perClass.get(label) ?? 0;
    perClass.set(label, n + 1);
    const safe = (dataset.classNames[label] ?? `class${label}`).replace(/[^A-Za-z0-9._-]/g, '_');
    return `images/${safe}_${String(n).padStart(4, '0')}.png`;
  });
  await mapWithConcurrency(filenames, 8, async (filename, i) => {
    const raw = Buffer.from(dataset.pixels.buffer, dataset.pixels.byteOffset + i * size, size);
    const png = await sharp(raw, {
      raw: { width: dataset.width, height: dataset.height, channels: dataset.channels },
    })
      .png()
      .toBuffer();
    await writeFile(join(dir, filename), png);
  });
  const lines = filenames.map((filename, i) => {
    const label = dataset.labels[i] as number;
    return `${filename},${label},${dataset.classNames[label]}`;
  });
  const labelsPath = join(dir, LABELS_FILE);
  await writeFile(labelsPath, [LABELS_HEADER.join(','), ...lines].join('\n') + '\n');
  return labelsPath;
}

/** Writes a table as CSV with a header row, oldest row first (load it with `order: 'oldest-first'`). */
export async function writeNumericCsv(path: string, table: NumericTable): Promise<void> {
  const lines = [table.columns.join(','), ...table.rows.map((row) => row.join(','))];
  await writeFile(path, lines.join('\n') + '\n');
}
