/**
 * The model store: the MS read side (what versions exist, what they contain) and the MR
 * write side (publishing versions, moving aliases), written once over any `ObjectStore`.
 *
 * Layout (as TF Serving's, plus a manifest and aliases):
 *
 *     <model>/<version>/.claim            claim marker, created with putIfAbsent
 *     <model>/<version>/<file>            TF.js artifacts: model.json, weight shards
 *     <model>/<version>/manifest.json     written last; the version exists once it is valid
 *     <model>/aliases/<alias>.json        {"version": 3, "updatedAt": "...", "previous": 2}
 *
 * A version is *ready* when its manifest parses, validates, names this model and version,
 * and every file it lists exists with the recorded size (and, when asked, sha256). Readers
 * see only ready versions; `inspectVersions` tells why the others are not.
 *
 * Concurrency: two publishers never get the same number, because a number is taken only by
 * creating its `.claim` with a conditional write. Aliases are single objects, so a promotion
 * or rollback is one write; two concurrent alias moves are last-writer-wins (the
 * `ObjectStore` surface has no compare-and-swap on replace), and `resolve` never returns a
 * version that is not ready, even if an alias raced with `deleteVersion`.
 *
 * Numbering: the next version is max(existing version folders) + 1, so deleting the newest
 * version frees its number for the next publish (as in TF Serving, where numbers are just
 * folder names). Consumers that cache versions must key their cache on the manifest's file
 * checksums, not on the number alone.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { MscrError, errorMessage, isMscrError } from '../errors.ts';
import {
  MANIFEST_FILE,
  MANIFEST_SCHEMA_VERSION,
  isSafeFileName,
  isVersionNumber,
  parseVersion,
  validateManifest,
  validateModelName,
} from '../ms/manifest.ts';
import type { FileEntry, ManifestDraft, ModelManifest } from '../ms/manifest.ts';
import type { ContentCache } from './content-cache.ts';
import type { ObjectStore } from './object-store.ts';

export interface VersionStatus {
  version: number;
  state: 'ready' | 'incomplete' | 'invalid';
  /** Why the version is not ready. */
  problem?: string;
  /** The manifest, when it parsed and validated (also for some invalid versions). */
  manifest?: ModelManifest;
  /** Incomplete versions: when the publisher claimed the number (from its claim marker). */
  claimedAt?: string;
}

/** The content of `<model>/aliases/<alias>.json`. */
export interface AliasRecord {
  version: number;
  updatedAt: string;
  /** The version the alias pointed at before its last move: where a rollback goes. */
  previous?: number;
}

export interface ModelStore {
  readonly uri: string;
  /** Models with at least one version folder (ready or not), sorted. */
  listModels(): Promise<string[]>;
  /**
   * Ready versions only, ascending. A published version never changes, so a version seen
   * ready is not inspected again while its folder is listed: a poll of an unchanged model
   * costs one listing, not a manifest download and a size check per file and version.
   * `inspectVersions` always looks afresh.
   */
  listVersions(model: string): Promise<number[]>;
  /**
   * Every version folder with its state: `incomplete` = no manifest yet (being published, or
   * the publisher stopped); `invalid` = the manifest does not parse or validate, names another
   * model or version, or a listed file is missing, has the wrong size or (with
   * `verifyChecksums`) the wrong sha256.
   */
  inspectVersions(model: string, opts?: { verifyChecksums?: boolean }): Promise<VersionStatus[]>;
  latestVersion(model: string): Promise<number | undefined>;
  /** The validated manifest of a ready version; `not_found` when it is missing or incomplete, `integrity` when invalid. */
  readManifest(model: string, version: number): Promise<ModelManifest>;
  /** One file of a ready version, checked against the manifest's size and sha256 (`integrity` on mismatch). */
  readFile(model: string, version: number, file: string): Promise<Uint8Array>;
  /** A ready version's manifest and every file it lists, all verified. */
  readVersion(
    model: string,
    version: number,
  ): Promise<{ manifest: ModelManifest; files: Map<string, Uint8Array> }>;
  /** Claims the next version number, writes the files, then the manifest; optionally moves an alias. */
  publish(
    draft: ManifestDraft,
    files: Map<string, Uint8Array>,
    opts?: { alias?: string },
  ): Promise<ModelManifest>;
  /** Removes a version (manifest first, so readers stop seeing it at once); `conflict` while an alias points at it. */
  deleteVersion(model: string, version: number): Promise<void>;
  listAliases(model: string): Promise<Record<string, number>>;
  getAlias(model: string, alias: string): Promise<number | undefined>;
  /** Points an alias at a ready version; returns where it pointed before. */
  setAlias(model: string, alias: string, version: number): Promise<{ previous?: number }>;
  /** Moves an alias back to its previous version in one write (a second rollback undoes the first). */
  rollbackAlias(model: string, alias: string): Promise<{ from: number; to: number }>;
  deleteAlias(model: string, alias: string): Promise<void>;
  /** A version number, `'latest'`, a version as text (`'3'`) or an alias name -> a ready version. */
  resolve(model: string, ref: number | string): Promise<number>;
}

export const CLAIM_FILE = '.claim';
export const ALIASES_FOLDER = 'aliases';
/** The reference `resolve` reads as "the newest ready version"; not usable as an alias name. */
export const LATEST = 'latest';

const ALIAS_NAME = /^[a-z][a-z0-9-]{0,31}$/;
/** How many numbers a publisher tries before giving up; each lost try means another publisher won one. */
const MAX_CLAIM_ATTEMPTS = 100;
/** Store requests in flight at once per operation. */
const PARALLEL = 8;

/** Alias names: 1-32 lower-case letters, digits and '-', starting with a letter (so never a number), not `latest`. */
export function validateAliasName(alias: string): string {
  if (typeof alias !== 'string' || !ALIAS_NAME.test(alias) || alias === LATEST) {
    throw new MscrError(
      'bad_request',
      `invalid alias name ${JSON.stringify(alias)}: use 1-32 lower-case letters, digits or '-', starting with a letter (and not "${LATEST}")`,
    );
  }
  return alias;
}

/** The version a folder name stands for, or undefined for anything but a canonical positive integer (`3`, not `03`, `3.0`). */
export function versionOfFolder(name: string): number | undefined {
  if (!/^[1-9][0-9]{0,15}$/.test(name)) return undefined;
  const version = Number(name);
  return isVersionNumber(version) ? version : undefined;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function isModelName(name: string): boolean {
  try {
    validateModelName(name);
    return true;
  } catch {
    return false;
  }
}

function checkVersion(version: number): number {
  if (!isVersionNumber(version)) {
    throw new MscrError(
      'bad_request',
      `invalid version ${JSON.stringify(version)}: versions are positive integers`,
    );
  }
  return version;
}

function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

function decodeJson(bytes: Uint8Array): unknown {
  return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight. On the first failure it
 * starts no new calls, waits for those in flight, then throws that failure, so nothing is
 * still writing when the caller cleans up.
 */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}

export interface ModelStoreOptions {
  /** Where verified files are kept by checksum, so a version is downloaded once per cache. */
  cache?: ContentCache;
}

class ObjectModelStore implements ModelStore {
  readonly uri: string;
  private readonly objects: ObjectStore;
  private readonly cache: ContentCache | undefined;
  /** Per model, the versions seen ready (see `listVersions`). */
  private readonly seenReady = new Map<string, Set<number>>();

  constructor(objects: ObjectStore, options: ModelStoreOptions) {
    this.objects = objects;
    this.uri = objects.uri;
    this.cache = options.cache;
  }

  private where(model: string, version?: number): string {
    return version === undefined
      ? `model ${model} in ${this.uri}`
      : `version ${version} of model ${model} in ${this.uri}`;
  }

  private aliasKey(model: string, alias: string): string {
    return `${model}/${ALIASES_FOLDER}/${alias}.json`;
  }

  /** Canonical version folders of a model, ready or not, ascending. */
  private async versionFolders(model: string): Promise<number[]> {
    const { prefixes } = await this.objects.list(`${model}/`);
    return prefixes
      .map((prefix) => versionOfFolder(prefix.replace(/\/$/, '')))
      .filter((version): version is number => version !== undefined)
      .sort((a, b) => a - b);
  }

  private async inspect(model: string, version: number, verify: boolean): Promise<VersionStatus> {
    const folder = `${model}/${version}/`;
    let raw: Uint8Array;
    try {
      raw = await this.objects.get(folder + MANIFEST_FILE);
    } catch (error) {
      if (isMscrError(error, 'not_found')) {
        const claimedAt = await this.claimTime(folder);
        return {
          version,
          state: 'incomplete',
          problem: `no ${MANIFEST_FILE} yet: being published, or its publisher stopped`,
          ...(claimedAt === undefined ? {} : { claimedAt }),
        };
      }
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = decodeJson(raw);
    } catch (error) {
      return {
        version,
        state: 'invalid',
        problem: `${MANIFEST_FILE} is not JSON: ${errorMessage(error)}`,
      };
    }
    let manifest: ModelManifest;
    try {
      manifest = validateManifest(parsed, `${this.uri}/${folder}${MANIFEST_FILE}`);
    } catch (error) {
      if (isMscrError(error)) return { version, state: 'invalid', problem: error.message };
      throw error;
    }
    if (manifest.name !== model) {
      return {
        version,
        state: 'invalid',
        problem: `${MANIFEST_FILE} names model ${JSON.stringify(manifest.name)}, not ${JSON.stringify(model)}`,
      };
    }
    if (manifest.version !== version) {
      return {
        version,
        state: 'invalid',
        problem: `${MANIFEST_FILE} says version ${manifest.version}, but it is in folder ${version}`,
      };
    }
    const problems = await mapLimit(Object.entries(manifest.files), PARALLEL, ([file, entry]) =>
      this.checkFile(folder, file, entry, verify),
    );
    const found = problems.filter((problem): problem is string => problem !== undefined);
    if (found.length > 0) return { version, state: 'invalid', problem: found.join('; '), manifest };
    return { version, state: 'ready', manifest };
  }

  /** When a version folder's number was claimed, if its claim marker says so. */
  private async claimTime(folder: string): Promise<string | undefined> {
    try {
      const claim = decodeJson(await this.objects.get(folder + CLAIM_FILE));
      const at = isObject(claim) ? claim.claimedAt : undefined;
      return typeof at === 'string' && !Number.isNaN(Date.parse(at)) ? at : undefined;
    } catch (error) {
      if (isMscrError(error) && error.code !== 'not_found') throw error;
      return undefined; // no claim, or not JSON: the age is unknown
    }
  }

  /** A problem with one listed file, or undefined when it matches the manifest. */
  private async checkFile(
    folder: string,
    file: string,
    entry: FileEntry,
    verify: boolean,
  ): Promise<string | undefined> {
    const stat = await this.objects.stat(folder + file);
    if (stat === undefined) return `${file} is listed in ${MANIFEST_FILE} but missing`;
    if (stat.size !== entry.size)
      return `${file} has ${stat.size} bytes, ${MANIFEST_FILE} says ${entry.size}`;
    if (!verify) return undefined;
    const actual = sha256Hex(await this.objects.get(folder + file));
    return actual === entry.sha256
      ? undefined
      : `${file} has sha256 ${actual}, ${MANIFEST_FILE} says ${entry.sha256}`;
  }

  /** The manifest of a ready version; `not_found` when missing or incomplete, `integrity` when invalid. */
  private async requireReady(model: string, version: number): Promise<ModelManifest> {
    const status = await this.inspect(model, version, false);
    if (status.state === 'ready' && status.manifest !== undefined) return status.manifest;
    if (status.state === 'invalid') {
      throw new MscrError(
        'integrity',
        `${this.where(model, version)} is invalid: ${status.problem ?? ''}`,
      );
    }
    const { objects, prefixes } = await this.objects.list(`${model}/${version}/`);
    if (objects.length === 0 && prefixes.length === 0) {
      throw new MscrError('not_found', `${this.where(model, version)} does not exist`);
    }
    throw new MscrError(
      'not_found',
      `${this.where(model, version)} is not ready: ${status.problem ?? ''}`,
    );
  }

  /** Reads one listed file and checks its size and sha256. */
  private async readVerified(
    model: string,
    version: number,
    file: string,
    entry: FileEntry,
  ): Promise<Uint8Array> {
    const key = `${model}/${version}/${file}`;
    const cached = await this.cache?.get(entry.sha256);
    if (cached !== undefined && cached.byteLength === entry.size) return cached;
    let bytes: Uint8Array;
    try {
      bytes = await this.objects.get(key);
    } catch (error) {
      if (isMscrError(error, 'not_found')) {
        throw new MscrError(
          'integrity',
          `${this.uri}/${key} is listed in ${MANIFEST_FILE} but missing`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    if (bytes.byteLength !== entry.size) {
      throw new MscrError(
        'integrity',
        `${this.uri}/${key} has ${bytes.byteLength} bytes, ${MANIFEST_FILE} says ${entry.size}`,
      );
    }
    const actual = sha256Hex(bytes);
    if (actual !== entry.sha256) {
      throw new MscrError(
        'integrity',
        `${this.uri}/${key} has sha256 ${actual}, ${MANIFEST_FILE} says ${entry.sha256}`,
      );
    }
    await this.cache?.put(entry.sha256, bytes);
    return bytes;
  }

  private async readAlias(model: string, alias: string): Promise<AliasRecord | undefined> {
    const key = this.aliasKey(model, alias);
    let raw: Uint8Array;
    try {
      raw = await this.objects.get(key);
    } catch (error) {
      if (isMscrError(error, 'not_found')) return undefined;
      throw error;
    }
    let value: unknown;
    try {
      value = decodeJson(raw);
    } catch (error) {
      throw new MscrError('integrity', `${this.uri}/${key} is not JSON: ${errorMessage(error)}`);
    }
    if (
      !isObject(value) ||
      !isVersionNumber(value.version) ||
      typeof value.updatedAt !== 'string' ||
      (value.previous !== undefined && !isVersionNumber(value.previous))
    ) {
      throw new MscrError(
        'integrity',
        `${this.uri}/${key} is invalid: expected {"version": <positive integer>, "updatedAt": "<date>", "previous"?: <positive integer>}`,
      );
    }
    return value.previous === undefined
      ? { version: value.version, updatedAt: value.updatedAt }
      : { version: value.version, updatedAt: value.updatedAt, previous: value.previous };
  }

  private async writeAlias(model: string, alias: string, record: AliasRecord): Promise<void> {
    await this.objects.put(this.aliasKey(model, alias), encodeJson(record));
  }

  async listModels(): Promise<string[]> {
    const { prefixes } = await this.objects.list('');
    const names = prefixes.map((prefix) => prefix.replace(/\/$/, '')).filter(isModelName);
    const withVersions = await mapLimit(names, PARALLEL, async (name) =>
      (await this.versionFolders(name)).length > 0 ? name : undefined,
    );
    return withVersions.filter((name): name is string => name !== undefined).sort();
  }

  async listVersions(model: string): Promise<number[]> {
    validateModelName(model);
    const folders = await this.versionFolders(model);
    const known = this.seenReady.get(model) ?? new Set<number>();
    // A folder that is gone was deleted: forget it, so a number published again is inspected.
    const listed = new Set(folders);
    for (const version of known) if (!listed.has(version)) known.delete(version);
    const fresh = folders.filter((version) => !known.has(version));
    const statuses = await mapLimit(fresh, PARALLEL, (version) =>
      this.inspect(model, version, false),
    );
    for (const status of statuses) if (status.state === 'ready') known.add(status.version);
    this.seenReady.set(model, known);
    return folders.filter((version) => known.has(version));
  }

  async inspectVersions(
    model: string,
    opts: { verifyChecksums?: boolean } = {},
  ): Promise<VersionStatus[]> {
    validateModelName(model);
    const versions = await this.versionFolders(model);
    return mapLimit(versions, PARALLEL, (version) =>
      this.inspect(model, version, opts.verifyChecksums === true),
    );
  }

  async latestVersion(model: string): Promise<number | undefined> {
    validateModelName(model);
    const versions = await this.versionFolders(model);
    for (const version of versions.reverse()) {
      if ((await this.inspect(model, version, false)).state === 'ready') return version;
    }
    return undefined;
  }

  async readManifest(model: string, version: number): Promise<ModelManifest> {
    validateModelName(model);
    checkVersion(version);
    return this.requireReady(model, version);
  }

  async readFile(model: string, version: number, file: string): Promise<Uint8Array> {
    validateModelName(model);
    checkVersion(version);
    if (typeof file !== 'string' || !isSafeFileName(file)) {
      throw new MscrError('bad_request', `invalid file name ${JSON.stringify(file)}`);
    }
    const manifest = await this.requireReady(model, version);
    const entry = Object.hasOwn(manifest.files, file) ? manifest.files[file] : undefined;
    if (entry === undefined) {
      throw new MscrError(
        'not_found',
        `${this.where(model, version)} has no file ${JSON.stringify(file)}`,
      );
    }
    return this.readVerified(model, version, file, entry);
  }

  async readVersion(
    model: string,
    version: number,
  ): Promise<{ manifest: ModelManifest; files: Map<string, Uint8Array> }> {
    validateModelName(model);
    checkVersion(version);
    const manifest = await this.requireReady(model, version);
    const entries = Object.entries(manifest.files);
    const contents = await mapLimit(entries, PARALLEL, ([file, entry]) =>
      this.readVerified(model, version, file, entry),
    );
    const files = new Map<string, Uint8Array>();
    entries.forEach(([file], index) => files.set(file, contents[index] as Uint8Array));
    return { manifest, files };
  }

  /** Takes the next free version number by creating its claim marker; a lost race moves on. */
  private async claimNextVersion(model: string): Promise<number> {
    const folders = await this.versionFolders(model);
    let next = (folders.at(-1) ?? 0) + 1;
    for (let attempt = 1; attempt <= MAX_CLAIM_ATTEMPTS; attempt++) {
      const claim = encodeJson({
        claimedAt: new Date().toISOString(),
        host: hostname(),
        pid: process.pid,
      });
      if (await this.objects.putIfAbsent(`${model}/${next}/${CLAIM_FILE}`, claim)) return next;
      const now = await this.versionFolders(model);
      next = Math.max(next + 1, (now.at(-1) ?? 0) + 1);
    }
    throw new MscrError(
      'conflict',
      `could not claim a version of ${this.where(model)}: ${MAX_CLAIM_ATTEMPTS} attempts lost to other publishers`,
    );
  }

  /** Best-effort removal of a version whose publish failed: manifest first, claim last. */
  private async abandon(model: string, version: number, files: string[]): Promise<void> {
    const folder = `${model}/${version}/`;
    const keys = [MANIFEST_FILE, ...files].map((file) => folder + file);
    for (const key of keys) await this.objects.delete(key).catch(() => undefined);
    await this.objects.delete(folder + CLAIM_FILE).catch(() => undefined);
  }

  async publish(
    draft: ManifestDraft,
    files: Map<string, Uint8Array>,
    opts: { alias?: string } = {},
  ): Promise<ModelManifest> {
    if (!isObject(draft))
      throw new MscrError('bad_request', 'publish needs a manifest draft object');
    const model = validateModelName(draft.name);
    if (!(files instanceof Map) || files.size === 0) {
      throw new MscrError('bad_request', `nothing to publish for model ${model}: no files`);
    }
    const entries: Record<string, FileEntry> = {};
    for (const [file, body] of files) {
      if (typeof file !== 'string' || !isSafeFileName(file)) {
        throw new MscrError(
          'bad_request',
          `invalid file name ${JSON.stringify(file)}: one path segment of letters, digits, '.', '_' or '-', not ${MANIFEST_FILE}`,
        );
      }
      if (!(body instanceof Uint8Array)) {
        throw new MscrError('bad_request', `file ${file}: content must be bytes (Uint8Array)`);
      }
      entries[file] = { sha256: sha256Hex(body), size: body.byteLength };
    }
    if (opts.alias !== undefined) validateAliasName(opts.alias);

    // The store fills these in; whatever the caller passed for them is ignored.
    const {
      name: _name,
      version: _version,
      files: _files,
      createdAt: _createdAt,
      schemaVersion: _schemaVersion,
      ...rest
    } = draft as ManifestDraft & Partial<ModelManifest>;
    const build = (version: number): ModelManifest => ({
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      name: model,
      version,
      ...rest,
      createdAt: new Date().toISOString(),
      files: entries,
    });
    // Check the draft before claiming a number, so a bad draft leaves nothing behind.
    try {
      validateManifest(JSON.parse(JSON.stringify(build(1))), `manifest draft for model ${model}`);
    } catch (error) {
      if (isMscrError(error, 'integrity')) throw new MscrError('bad_request', error.message);
      throw error;
    }

    const version = await this.claimNextVersion(model);
    const folder = `${model}/${version}/`;
    let manifest: ModelManifest;
    try {
      await mapLimit([...files], PARALLEL, ([file, body]) => this.objects.put(folder + file, body));
      manifest = build(version);
      const bytes = encodeJson(manifest);
      validateManifest(decodeJson(bytes), `${this.uri}/${folder}${MANIFEST_FILE}`);
      await this.objects.put(folder + MANIFEST_FILE, bytes);
    } catch (error) {
      await this.abandon(model, version, [...files.keys()]);
      throw error;
    }
    if (opts.alias !== undefined) {
      try {
        await this.setAlias(model, opts.alias, version);
      } catch (error) {
        const code = isMscrError(error) ? error.code : 'internal';
        throw new MscrError(
          code,
          `published ${this.where(model, version)}, but setting alias ${opts.alias} failed: ${errorMessage(error)}`,
          { cause: error },
        );
      }
    }
    return manifest;
  }

  async deleteVersion(model: string, version: number): Promise<void> {
    validateModelName(model);
    checkVersion(version);
    const folder = `${model}/${version}/`;
    const { objects, prefixes } = await this.objects.list(folder);
    if (objects.length === 0 && prefixes.length === 0) {
      throw new MscrError('not_found', `${this.where(model, version)} does not exist`);
    }
    const aliases = await this.listAliases(model);
    const pointing = Object.entries(aliases)
      .filter(([, target]) => target === version)
      .map(([alias]) => alias);
    if (pointing.length > 0) {
      throw new MscrError(
        'conflict',
        `${this.where(model, version)} is the target of alias ${pointing.join(', ')}: move or delete the alias first`,
      );
    }
    // Manifest first: from here on readers no longer see the version. Claim last: the number
    // stays taken until everything else is gone.
    this.seenReady.get(model)?.delete(version);
    await this.objects.delete(folder + MANIFEST_FILE);
    const others = objects.filter((name) => name !== MANIFEST_FILE && name !== CLAIM_FILE);
    await mapLimit(others, PARALLEL, (name) => this.objects.delete(folder + name));
    await this.objects.delete(folder + CLAIM_FILE);
  }

  async listAliases(model: string): Promise<Record<string, number>> {
    validateModelName(model);
    const { objects } = await this.objects.list(`${model}/${ALIASES_FOLDER}/`);
    const names = objects
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -'.json'.length))
      .filter((name) => ALIAS_NAME.test(name) && name !== LATEST)
      .sort();
    const records = await mapLimit(names, PARALLEL, (name) => this.readAlias(model, name));
    const result: Record<string, number> = {};
    names.forEach((name, index) => {
      const record = records[index];
      if (record !== undefined) result[name] = record.version;
    });
    return result;
  }

  async getAlias(model: string, alias: string): Promise<number | undefined> {
    validateModelName(model);
    validateAliasName(alias);
    return (await this.readAlias(model, alias))?.version;
  }

  async setAlias(model: string, alias: string, version: number): Promise<{ previous?: number }> {
    validateModelName(model);
    validateAliasName(alias);
    checkVersion(version);
    await this.requireReady(model, version);
    const current = await this.readAlias(model, alias);
    // Re-pointing at the same version keeps the rollback target.
    const previous =
      current === undefined
        ? undefined
        : current.version === version
          ? current.previous
          : current.version;
    const record: AliasRecord = { version, updatedAt: new Date().toISOString() };
    if (previous !== undefined) record.previous = previous;
    await this.writeAlias(model, alias, record);
    return current === undefined ? {} : { previous: current.version };
  }

  async rollbackAlias(model: string, alias: string): Promise<{ from: number; to: number }> {
    validateModelName(model);
    validateAliasName(alias);
    const current = await this.readAlias(model, alias);
    if (current === undefined) {
      throw new MscrError(
        'not_found',
        `${this.where(model)} has no alias ${JSON.stringify(alias)}`,
      );
    }
    if (current.previous === undefined) {
      throw new MscrError(
        'conflict',
        `alias ${alias} of ${this.where(model)} has no previous version to roll back to`,
      );
    }
    try {
      await this.requireReady(model, current.previous);
    } catch (error) {
      throw new MscrError(
        'conflict',
        `cannot roll alias ${alias} of ${this.where(model)} back to version ${current.previous}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    await this.writeAlias(model, alias, {
      version: current.previous,
      updatedAt: new Date().toISOString(),
      previous: current.version,
    });
    return { from: current.version, to: current.previous };
  }

  async deleteAlias(model: string, alias: string): Promise<void> {
    validateModelName(model);
    validateAliasName(alias);
    const key = this.aliasKey(model, alias);
    if ((await this.objects.stat(key)) === undefined) {
      throw new MscrError(
        'not_found',
        `${this.where(model)} has no alias ${JSON.stringify(alias)}`,
      );
    }
    await this.objects.delete(key);
  }

  async resolve(model: string, ref: number | string): Promise<number> {
    validateModelName(model);
    if (typeof ref === 'number') {
      checkVersion(ref);
      return this.readyForResolve(model, ref, `version ${ref}`);
    }
    if (typeof ref !== 'string') {
      throw new MscrError('bad_request', `invalid version reference ${JSON.stringify(ref)}`);
    }
    if (ref === LATEST) {
      const latest = await this.latestVersion(model);
      if (latest === undefined)
        throw new MscrError('not_found', `${this.where(model)} has no ready version`);
      return latest;
    }
    if (/^[0-9]+$/.test(ref)) {
      const version = parseVersion(ref);
      return this.readyForResolve(model, version, `version ${version}`);
    }
    if (!ALIAS_NAME.test(ref)) {
      throw new MscrError(
        'bad_request',
        `invalid version reference ${JSON.stringify(ref)}: use a version number, "${LATEST}" or an alias name`,
      );
    }
    const record = await this.readAlias(model, ref);
    if (record === undefined) {
      throw new MscrError('not_found', `${this.where(model)} has no alias ${JSON.stringify(ref)}`);
    }
    return this.readyForResolve(model, record.version, `alias ${ref} (version ${record.version})`);
  }

  /** `version` when it is ready; otherwise `not_found` saying why (a reference never resolves to a broken version). */
  private async readyForResolve(model: string, version: number, what: string): Promise<number> {
    try {
      await this.requireReady(model, version);
      return version;
    } catch (error) {
      if (!isMscrError(error, 'not_found') && !isMscrError(error, 'integrity')) throw error;
      throw new MscrError(
        'not_found',
        `cannot resolve ${what} of ${this.where(model)}: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
  }
}

/** A `ModelStore` over any object store adapter. */
export function createModelStore(
  objects: ObjectStore,
  options: ModelStoreOptions = {},
): ModelStore {
  return new ObjectModelStore(objects, options);
}
