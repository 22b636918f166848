/**
 * Training data on S3 or GCS: `s3://bucket/data/goog.csv` (one object) or
 * `gs://bucket/data/cifar10/train` (a folder: every object under it, kept in its layout) is
 * copied to a local folder through the same adapters as the model store, so the loaders
 * read local files whatever the data's origin.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MscrError } from '../errors.ts';
import { trimTrailing } from '../text.ts';
import { openObjectStore } from './index.ts';
import type { ObjectStore } from './object-store.ts';

/** Most objects one data URI may expand to, so a wrong prefix cannot fill the disk. */
export const MAX_DATA_OBJECTS = 200_000;

async function copyTree(
  objects: ObjectStore,
  prefix: string,
  dest: string,
  count: { n: number },
): Promise<void> {
  const { objects: files, prefixes } = await objects.list(prefix);
  await mkdir(dest, { recursive: true });
  for (const file of files) {
    if (++count.n > MAX_DATA_OBJECTS) {
      throw new MscrError(
        'bad_data',
        `${objects.uri}/${prefix} holds more than ${MAX_DATA_OBJECTS} objects; point --data at the data itself`,
      );
    }
    await writeFile(path.join(dest, file), await objects.get(prefix + file));
  }
  for (const sub of prefixes) await copyTree(objects, prefix + sub, path.join(dest, sub), count);
}

/**
 * Copies the object or folder at a cloud URI into `dir` and returns the local path (a file
 * for an object, a folder otherwise). `not_found` when there is neither.
 */
export async function downloadData(
  uri: string,
  dir: string,
  env?: NodeJS.ProcessEnv,
): Promise<string> {
  const trimmed = trimTrailing(uri, '/');
  const slash = trimmed.lastIndexOf('/');
  const parent = trimmed.slice(0, slash);
  const name = trimmed.slice(slash + 1);
  if (slash < 'gs://'.length || name === '') {
    throw new MscrError(
      'bad_data',
      `${uri}: name an object or a folder inside the bucket, e.g. s3://bucket/data/train`,
    );
  }
  const objects = openObjectStore(parent, env);
  if ((await objects.stat(name)) !== undefined) {
    const file = path.join(dir, name);
    await mkdir(dir, { recursive: true });
    await writeFile(file, await objects.get(name));
    return file;
  }
  const count = { n: 0 };
  const dest = path.join(dir, name);
  await copyTree(objects, `${name}/`, dest, count);
  if (count.n === 0)
    throw new MscrError('not_found', `no data at ${uri}: no such object, and no objects under it`);
  return dest;
}
