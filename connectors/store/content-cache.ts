/**
 * A local cache of model files keyed by their sha256, so that a server reading the same
 * weights again (a restart, another replica on the node's volume, a version that shares
 * files with the previous one) does not download them from S3 or GCS again.
 *
 * Content addressing makes it safe without any invalidation: a file's key is its checksum, so
 * an entry can only ever hold those bytes. Entries are still re-hashed on every read (a full
 * disk or a stray write must not turn into a wrong model), and a bad entry is dropped.
 *
 *     <dir>/sha256/<hex>      the files
 *     <dir>/sha256/.tmp-*     writes in progress, renamed into place when complete
 *
 * The cache is bounded: after a write that takes it over `maxBytes`, the least recently used
 * entries (by modification time, touched on every hit) are removed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MscrError, errorMessage } from '../errors.ts';
import { sha256Hex } from './model-store.ts';

export interface ContentCache {
  /** Where the cache lives, for messages. */
  readonly dir: string;
  /** The bytes whose sha256 is `sha256`, or undefined on a miss (or a bad entry, now removed). */
  get(sha256: string): Promise<Uint8Array | undefined>;
  /** Stores bytes already verified against `sha256`. Failures are swallowed: a cache is optional. */
  put(sha256: string, bytes: Uint8Array): Promise<void>;
}

export interface ContentCacheOptions {
  dir: string;
  /** Most bytes kept. Default 4 GiB. */
  maxBytes?: number;
}

export const DEFAULT_CACHE_MAX_BYTES = 4 * 1024 ** 3;
const SHA256 = /^[0-9a-f]{64}$/;

export function createContentCache(options: ContentCacheOptions): ContentCache {
  if (typeof options.dir !== 'string' || options.dir.trim() === '') {
    throw new MscrError('config', 'the content cache needs a folder');
  }
  const maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new MscrError('config', `cache maxBytes must be a positive integer, not ${maxBytes}`);
  }
  const dir = path.resolve(options.dir);
  const folder = path.join(dir, 'sha256');
  let ready: Promise<void> | undefined;
  const ensureFolder = (): Promise<void> =>
    (ready ??= mkdir(folder, { recursive: true }).then(
      () => undefined,
      (error: unknown) => {
        ready = undefined;
        throw new MscrError(
          'config',
          `cannot create cache folder ${folder}: ${errorMessage(error)}`,
        );
      },
    ));

  const evict = async (): Promise<void> => {
    const names = (await readdir(folder)).filter((name) => SHA256.test(name));
    const entries = await Promise.all(
      names.map(async (name) => {
        const info = await stat(path.join(folder, name)).catch(() => undefined);
        return { name, size: info?.size ?? 0, used: info?.mtimeMs ?? 0 };
      }),
    );
    let total = entries.reduce((sum, entry) => sum + entry.size, 0);
    entries.sort((a, b) => a.used - b.used);
    for (const entry of entries) {
      if (total <= maxBytes) break;
      await rm(path.join(folder, entry.name), { force: true });
      total -= entry.size;
    }
  };

  return {
    dir,
    async get(sha256) {
      if (!SHA256.test(sha256)) return undefined;
      const file = path.join(folder, sha256);
      let bytes: Uint8Array;
      try {
        const buffer = await readFile(file);
        // A plain Uint8Array, as every store adapter returns.
        bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      } catch {
        return undefined;
      }
      if (sha256Hex(bytes) !== sha256) {
        await rm(file, { force: true });
        return undefined;
      }
      const now = new Date();
      await utimes(file, now, now).catch(() => undefined);
      return bytes;
    },
    async put(sha256, bytes) {
      if (!SHA256.test(sha256) || bytes.byteLength > maxBytes) return;
      const tmp = path.join(folder, `.tmp-${randomBytes(6).toString('hex')}`);
      try {
        await ensureFolder();
        await writeFile(tmp, bytes);
        await rename(tmp, path.join(folder, sha256));
        await evict();
      } catch {
        await rm(tmp, { force: true }).catch(() => undefined);
      }
    },
  };
}
