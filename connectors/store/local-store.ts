/**
 * `ObjectStore` adapter for a folder on a local (or mounted) file system.
 *
 * - `put` writes a temp file beside the target, fsyncs it and renames it over the target,
 *   so a reader sees the old object or the new one, never half of one.
 * - `putIfAbsent` writes a complete temp file, then hard-links it to the target name:
 *   `link(2)` fails with EEXIST when the name is taken, so the object appears complete or
 *   not at all and exactly one of several racing writers (threads, processes, or machines
 *   sharing an NFSv3+ mount) wins.
 * - Keys are checked before they touch the file system: a key is one or more `/`-separated
 *   segments, none empty, `.` or `..`, and no backslash or NUL, so no key can name a path
 *   outside the root.
 * - Deleting the last object of a folder removes the empty folders above it (up to the
 *   root), so a prefix exists only while it holds objects, as in S3 and GCS.
 */
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MscrError, errorMessage } from '../errors.ts';
import type { ObjectStore } from './object-store.ts';

/** Temp files start with this; `list` hides them and keys may not use it. */
export const TEMP_PREFIX = '.mscr-tmp-';
/** A temp file untouched this long belongs to a writer that is gone (writes take seconds). */
const STALE_TEMP_MS = 10 * 60_000;

type Operation = 'reading' | 'checking' | 'writing' | 'creating' | 'listing' | 'deleting';

const NOT_THERE = new Set(['ENOENT', 'ENOTDIR']);
/** Errors telling that hard links are not available on this file system. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

function codeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function badKey(key: string, why: string): MscrError {
  return new MscrError('bad_request', `invalid object key ${JSON.stringify(key)}: ${why}`);
}

function checkSegments(key: string, segments: string[]): void {
  for (const segment of segments) {
    if (segment === '') throw badKey(key, 'empty path segment');
    if (segment === '.' || segment === '..')
      throw badKey(key, `'${segment}' segments are not allowed`);
    if (segment.startsWith(TEMP_PREFIX))
      throw badKey(key, `names starting with ${TEMP_PREFIX} are reserved`);
  }
}

/**
 * Checks an object key and returns its segments. Throws `bad_request` for anything that is
 * not a plain relative `/`-separated path: absolute paths, `..`/`.` segments, empty
 * segments, backslashes, NUL characters.
 */
export function validateObjectKey(key: string): string[] {
  if (typeof key !== 'string' || key === '') throw badKey(String(key), 'empty key');
  if (key.includes('\\')) throw badKey(key, 'backslashes are not allowed');
  if (key.includes('\0')) throw badKey(key, 'NUL characters are not allowed');
  if (key.startsWith('/')) throw badKey(key, 'absolute keys are not allowed');
  if (/^[A-Za-z]:/.test(key)) throw badKey(key, 'drive letters are not allowed');
  const segments = key.split('/');
  checkSegments(key, segments);
  return segments;
}

/** Checks a list prefix: `''` (the root) or a valid key followed by `/`. */
export function validateObjectPrefix(prefix: string): string[] {
  if (prefix === '') return [];
  if (typeof prefix !== 'string' || !prefix.endsWith('/')) {
    throw badKey(String(prefix), "a prefix is '' or ends with '/'");
  }
  return validateObjectKey(prefix.slice(0, -1));
}

function decodePath(text: string, uri: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new MscrError('config', `invalid file URI ${JSON.stringify(uri)}: bad percent-encoding`);
  }
}

/**
 * Resolves a `file://` URI or a plain path to an absolute folder. Accepts `file:///abs`,
 * `file://localhost/abs`, and the common (not RFC 8089) `file://./rel` and `file://../rel`,
 * which are relative to the working directory, as plain relative paths are.
 */
function rootPathOf(pathOrUri: string): string {
  if (pathOrUri.startsWith('file://')) {
    const rest = pathOrUri.slice('file://'.length);
    if (rest.startsWith('/')) return path.resolve(decodePath(rest, pathOrUri));
    if (rest.startsWith('localhost/')) {
      return path.resolve(decodePath(rest.slice('localhost'.length), pathOrUri));
    }
    if (rest === '.' || rest === '..' || rest.startsWith('./') || rest.startsWith('../')) {
      return path.resolve(decodePath(rest, pathOrUri));
    }
    throw new MscrError(
      'config',
      `unsupported file URI ${JSON.stringify(pathOrUri)}: use file:///absolute/path or file://./relative/path`,
    );
  }
  if (pathOrUri === '') throw new MscrError('config', 'empty store path');
  return path.resolve(pathOrUri);
}

class LocalObjectStore implements ObjectStore {
  readonly uri: string;
  readonly root: string;
  readonly #createRoot: boolean;

  constructor(root: string, createRoot: boolean) {
    this.root = root;
    this.uri = pathToFileURL(root).href.replace(/\/$/, '');
    this.#createRoot = createRoot;
  }

  /** The URI of one object, for messages. */
  private uriOf(key: string): string {
    return key === '' ? this.uri : `${this.uri}/${key}`;
  }

  private pathOf(segments: string[]): string {
    const full = path.join(this.root, ...segments);
    // Belt and braces: validation already rules this out.
    if (
      full !== this.root &&
      !full.startsWith(this.root.endsWith(path.sep) ? this.root : this.root + path.sep)
    ) {
      throw new MscrError(
        'bad_request',
        `object key escapes the store root: ${segments.join('/')}`,
      );
    }
    return full;
  }

  private failure(operation: Operation, key: string, error: unknown): MscrError {
    if (error instanceof MscrError) return error;
    const code = codeOf(error) ?? '';
    const where = `${operation} ${this.uriOf(key)}`;
    const writing = operation === 'writing' || operation === 'creating';
    if (!writing && NOT_THERE.has(code)) {
      return new MscrError('not_found', `${where}: no such object`, { cause: error });
    }
    if (!writing && code === 'EISDIR') {
      return new MscrError('not_found', `${where}: is a folder, not an object`, { cause: error });
    }
    if (writing && (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST')) {
      // S3 allows objects `a` and `a/b` side by side; a file system does not.
      return new MscrError(
        'conflict',
        `${where}: the key or a folder on its path is taken by an object of another kind (${code})`,
        { cause: error },
      );
    }
    return new MscrError('unavailable', `${where}: ${errorMessage(error)}`, { cause: error });
  }

  private tempPathBeside(target: string): string {
    return path.join(
      path.dirname(target),
      `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`,
    );
  }

  /** Writes `body` to a new temp file beside `target`, fsynced; returns its path. Creates folders as needed. */
  private async writeTemp(target: string, body: Uint8Array): Promise<string> {
    // A concurrent delete may prune a folder on the way between mkdir and open: retry.
    for (let attempt = 1; ; attempt++) {
      const temp = this.tempPathBeside(target);
      let handle: fs.FileHandle;
      if (!this.#createRoot) await this.requireRoot();
      try {
        await fs.mkdir(path.dirname(target), { recursive: true });
        handle = await fs.open(temp, 'wx');
      } catch (error) {
        if (codeOf(error) === 'ENOENT' && attempt < 20) continue;
        throw error;
      }
      try {
        await handle.writeFile(body);
        await handle.sync();
      } catch (error) {
        await handle.close().catch(() => undefined);
        await fs.rm(temp, { force: true });
        throw error;
      }
      await handle.close();
      return temp;
    }
  }

  /**
   * A store that must not create its root (the service's feedback writes): a vanished root
   * stays vanished, rather than coming back with only `feedback/` in it, which the next
   * poll would read as a store without models.
   */
  private async requireRoot(): Promise<void> {
    const info = await fs.stat(this.root).catch(() => undefined);
    if (info?.isDirectory() !== true) {
      throw new MscrError(
        'unavailable',
        `writing to ${this.uri}: the store folder does not exist, and this writer does not create it (publish a model to create a store)`,
      );
    }
  }

  /** Makes a rename or link durable; not every platform can fsync a folder, which is fine. */
  private async syncFolder(folder: string): Promise<void> {
    try {
      const handle = await fs.open(folder, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch {
      // best effort
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const file = this.pathOf(validateObjectKey(key));
    try {
      const buffer = await fs.readFile(file);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      throw this.failure('reading', key, error);
    }
  }

  async stat(key: string): Promise<{ size: number } | undefined> {
    const file = this.pathOf(validateObjectKey(key));
    try {
      const stats = await fs.stat(file);
      return stats.isFile() ? { size: stats.size } : undefined;
    } catch (error) {
      const code = codeOf(error);
      if (code !== undefined && NOT_THERE.has(code)) return undefined;
      throw this.failure('checking', key, error);
    }
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const target = this.pathOf(validateObjectKey(key));
    try {
      const temp = await this.writeTemp(target, body);
      try {
        await fs.rename(temp, target);
      } catch (error) {
        await fs.rm(temp, { force: true });
        throw error;
      }
      await this.syncFolder(path.dirname(target));
    } catch (error) {
      throw this.failure('writing', key, error);
    }
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    const target = this.pathOf(validateObjectKey(key));
    try {
      const temp = await this.writeTemp(target, body);
      try {
        await fs.link(temp, target);
      } catch (error) {
        const code = codeOf(error);
        if (code === 'EEXIST') {
          // Taken by another writer, unless the name is a folder: that is no object at all.
          if ((await fs.stat(target).catch(() => undefined))?.isDirectory() === true) throw error;
          return false;
        }
        if (code !== undefined && NO_LINKS.has(code))
          return await this.createExclusive(target, body);
        throw error;
      } finally {
        await fs.rm(temp, { force: true });
      }
      await this.syncFolder(path.dirname(target));
      return true;
    } catch (error) {
      throw this.failure('creating', key, error);
    }
  }

  /**
   * Fallback for file systems without hard links: an exclusive create of the target itself.
   * Still exactly one winner, but a reader may briefly see the object before it is filled.
   */
  private async createExclusive(target: string, body: Uint8Array): Promise<boolean> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(target, 'wx');
    } catch (error) {
      if (codeOf(error) !== 'EEXIST') throw error;
      if ((await fs.stat(target).catch(() => undefined))?.isDirectory() === true) throw error;
      return false;
    }
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return true;
  }

  async list(prefix: string): Promise<{ objects: string[]; prefixes: string[] }> {
    const folder = this.pathOf(validateObjectPrefix(prefix));
    let entries: Dirent[];
    try {
      entries = await fs.readdir(folder, { withFileTypes: true });
    } catch (error) {
      const code = codeOf(error);
      if (code !== undefined && NOT_THERE.has(code)) {
        // A missing root is a missing store (like a missing bucket), not an empty one: a
        // serving source must keep its models through it rather than unload them.
        if (prefix === '') {
          throw new MscrError(
            'unavailable',
            `listing ${this.uri}: the store folder does not exist (publish a model to create it)`,
          );
        }
        return { objects: [], prefixes: [] };
      }
      throw this.failure('listing', prefix, error);
    }
    const objects: string[] = [];
    const prefixes: string[] = [];
    for (const entry of entries) {
      const name = entry.name;
      // Hide temp files and names no key could reach.
      if (name.startsWith(TEMP_PREFIX) || name.includes('\\') || name === '.' || name === '..')
        continue;
      let isFile = entry.isFile();
      let isFolder = entry.isDirectory();
      if (entry.isSymbolicLink()) {
        const target = await fs.stat(path.join(folder, name)).catch(() => undefined);
        isFile = target?.isFile() ?? false;
        isFolder = target?.isDirectory() ?? false;
      }
      if (isFile) objects.push(name);
      else if (isFolder) prefixes.push(`${name}/`);
    }
    objects.sort();
    prefixes.sort();
    return { objects, prefixes };
  }

  async delete(key: string): Promise<void> {
    const segments = validateObjectKey(key);
    const file = this.pathOf(segments);
    try {
      await fs.unlink(file);
    } catch (error) {
      const code = codeOf(error);
      if (code !== undefined && (NOT_THERE.has(code) || code === 'EISDIR' || code === 'EPERM')) {
        // Missing, or a folder (not an object): nothing to delete. EPERM is how macOS says EISDIR.
        if (code !== 'EPERM' || (await fs.stat(file).catch(() => undefined))?.isDirectory()) return;
      }
      throw this.failure('deleting', key, error);
    }
    // Prune folders left empty, up to (not including) the root. A crashed writer's temp
    // files are invisible to every reader and lister, so nothing else would ever remove
    // them: a folder holding only stale ones counts as empty (issue 15: `models gc` said it
    // removed a version whose folder then stayed, with the temp file in it).
    for (let depth = segments.length - 1; depth > 0; depth--) {
      const folder = this.pathOf(segments.slice(0, depth));
      try {
        await fs.rmdir(folder);
      } catch {
        if (!(await this.removeStaleTemps(folder))) break; // not empty (or gone): stop
        try {
          await fs.rmdir(folder);
        } catch {
          break;
        }
      }
    }
  }

  /** Removes `folder`'s temp files when they are all it holds and all stale; true if it did. */
  private async removeStaleTemps(folder: string): Promise<boolean> {
    const names = await fs.readdir(folder).catch(() => [] as string[]);
    if (names.length === 0 || !names.every((name) => name.startsWith(TEMP_PREFIX))) return false;
    const cutoff = Date.now() - STALE_TEMP_MS;
    const paths = names.map((name) => path.join(folder, name));
    const stats = await Promise.all(paths.map((p) => fs.lstat(p).catch(() => undefined)));
    if (!stats.every((s) => s !== undefined && s.isFile() && s.mtimeMs < cutoff)) return false;
    await Promise.all(paths.map((p) => fs.rm(p, { force: true })));
    return true;
  }
}

/**
 * An object store over a local folder, given as a `file://` URI or a plain path.
 * `createRoot: false`: writes fail (`unavailable`) when the folder itself is missing.
 */
export function createLocalObjectStore(
  pathOrUri: string,
  options: { createRoot?: boolean } = {},
): ObjectStore & { readonly root: string } {
  return new LocalObjectStore(rootPathOf(pathOrUri), options.createRoot ?? true);
}

/** The absolute folder a `file://` URI or plain path names (relative paths against the working directory). */
export function localPathOf(pathOrUri: string): string {
  return rootPathOf(pathOrUri);
}
