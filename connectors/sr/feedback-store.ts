/**
 * `FeedbackStore` on any `ObjectStore` (local folder, S3, GCS): labelled feedback kept in the
 * model store beside the models, so every replica writes to one place and a retraining job
 * anywhere reads it.
 *
 *     <model>/feedback/<YYYY-MM-DD>/<id>.json          the record (written last)
 *     <model>/feedback/<YYYY-MM-DD>/<id>.png|jpg|...   an image input, as posted
 *     <model>/feedback/<YYYY-MM-DD>/<id>.tensor.json   a tensor input ({shape, data})
 *     <model>/feedback/<YYYY-MM-DD>/<id>.csv           a CSV window
 *
 * - The day folder is the UTC day of `receivedAt`; `list({since})` skips whole older days
 *   without reading them.
 * - The input is written first, the record last, both with a create-only write: a record
 *   never points at a missing input, and two writers never share an id. A record that could
 *   not be written takes its input away again (unless the record may have landed after all).
 * - Ids are one safe object-key segment without dots (`[A-Za-z0-9][A-Za-z0-9_-]*`), so
 *   `<id>.json` is always a record and `<id>.tensor.json` never is.
 * - A tensor input is `<id>.tensor.json`, not `<id>.json` as a first sketch of the layout had
 *   it: that name is the record's.
 * - The model store's `listModels`/`listVersions` see only numeric version folders, so
 *   `feedback/` never looks like a version.
 * - Feedback below the service's trust threshold goes to `<model>/feedback/quarantine/<day>/`
 *   with the same layout. `list` reads only day folders, so neither retraining nor anything
 *   else that lists feedback sees it until `accept` copies it out (marked `reviewed`) and
 *   deletes the quarantined copy; `reject` just deletes it.
 */
import { createHash } from 'node:crypto';
import { MscrError, errorMessage } from '../errors.ts';
import { validateModelName } from '../ms/manifest.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { FeedbackInput, FeedbackRecord, FeedbackStore } from './index.ts';

/** The folder under a model that holds its feedback. */
export const FEEDBACK_FOLDER = 'feedback';
/** The folder under a model's feedback that holds quarantined feedback. */
export const QUARANTINE_FOLDER = 'quarantine';

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const IMAGE_EXTENSIONS: readonly string[] = ['jpg', 'png', 'gif', 'webp'];
const TENSOR_EXTENSION = 'tensor.json';
const CSV_EXTENSION = 'csv';
/** Records read at once while listing. */
const PARALLEL_READS = 16;

/** Whether `id` can name a feedback record (one object-key segment, no dots). */
export function isFeedbackId(id: unknown): id is string {
  return typeof id === 'string' && ID.test(id);
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** An ISO 8601 date-time -> epoch ms; a `bad_request` naming `what` when it is not one. */
function parseTime(text: unknown, what: string): number {
  const ms = typeof text === 'string' ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new MscrError(
      'bad_request',
      `${what} must be an ISO 8601 date-time, got ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

/** `2025-03-01T12:00:00Z` -> `2025-03-01` (UTC). */
function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function rootOf(model: string, quarantined = false): string {
  return `${model}/${FEEDBACK_FOLDER}/${quarantined ? `${QUARANTINE_FOLDER}/` : ''}`;
}

function folderOf(model: string, receivedAt: string, quarantined = false): string {
  return `${rootOf(model, quarantined)}${dayOf(parseTime(receivedAt, 'receivedAt'))}/`;
}

function extensionOf(input: FeedbackInput): string {
  if (input.kind === 'image') return input.extension;
  return input.kind === 'tensor' ? TENSOR_EXTENSION : CSV_EXTENSION;
}

function checkTensor(shape: unknown, data: unknown, where: string): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new MscrError('bad_request', `${where}: shape must be an array of positive integers`);
  }
  const size = shape.reduce((a: number, b: number) => a * b, 1);
  if (!Array.isArray(data) || data.length !== size) {
    throw new MscrError(
      'bad_request',
      `${where}: data must have ${size} values for shape [${shape.join(', ')}]`,
    );
  }
  if (!data.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new MscrError('bad_request', `${where}: data must be finite numbers`);
  }
}

function encodeInput(input: FeedbackInput, where: string): Uint8Array {
  switch (input.kind) {
    case 'image':
      if (!IMAGE_EXTENSIONS.includes(input.extension)) {
        throw new MscrError('bad_request', `${where}: unknown image type ${input.extension}`);
      }
      if (input.bytes.length === 0) throw new MscrError('bad_request', `${where}: empty image`);
      return input.bytes;
    case 'tensor':
      checkTensor(input.shape, input.data, where);
      return Buffer.from(JSON.stringify({ shape: input.shape, data: input.data }));
    case 'csv':
      return Buffer.from(input.text, 'utf8');
  }
}

function decodeInput(file: string, bytes: Uint8Array, key: string): FeedbackInput {
  const extension = file.slice(file.indexOf('.') + 1);
  if (IMAGE_EXTENSIONS.includes(extension)) {
    return { kind: 'image', bytes, extension: extension as 'jpg' | 'png' | 'gif' | 'webp' };
  }
  if (extension === CSV_EXTENSION) {
    return { kind: 'csv', text: Buffer.from(bytes).toString('utf8') };
  }
  let value: { shape?: unknown; data?: unknown };
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof value;
  } catch (error) {
    throw new MscrError('integrity', `${key} is not valid JSON: ${errorMessage(error)}`);
  }
  try {
    checkTensor(value?.shape, value?.data, key);
  } catch (error) {
    throw new MscrError('integrity', errorMessage(error));
  }
  return { kind: 'tensor', shape: value.shape as number[], data: value.data as number[] };
}

/** The input file a record may name: `<id>.<known extension>`. */
function isInputFileOf(record: FeedbackRecord, file: string): boolean {
  if (!file.startsWith(`${record.id}.`)) return false;
  const extension = file.slice(record.id.length + 1);
  return (
    IMAGE_EXTENSIONS.includes(extension) ||
    extension === TENSOR_EXTENSION ||
    extension === CSV_EXTENSION
  );
}

type Json = Record<string, unknown>;

function isLabelledBox(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const { box, label } = value as { box?: unknown; label?: unknown };
  return (
    typeof label === 'string' &&
    Array.isArray(box) &&
    box.length === 4 &&
    box.every((n) => typeof n === 'number' && Number.isFinite(n))
  );
}

const OPTIONAL_FIELDS: Record<string, (value: unknown) => boolean> = {
  version: (v) => Number.isSafeInteger(v) && (v as number) > 0,
  predictionId: (v) => typeof v === 'string',
  label: (v) => typeof v === 'string',
  labelIndex: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  actual: (v) => typeof v === 'number' && Number.isFinite(v),
  boxes: (v) => Array.isArray(v) && v.every(isLabelledBox),
  predicted: (v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)),
  correct: (v) => typeof v === 'boolean',
  inputFile: (v) => typeof v === 'string',
  inputSha256: (v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v),
  trust: (v) => v === 'token' || v === 'prediction' || v === 'anonymous',
  reviewed: (v) =>
    typeof v === 'object' && v !== null && typeof (v as { at?: unknown }).at === 'string',
};

/** A stored record, checked: an `integrity` error naming the key when it is not one. */
function parseRecord(bytes: Uint8Array, key: string, model: string, id: string): FeedbackRecord {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new MscrError(
      'integrity',
      `feedback record ${key} is not valid JSON: ${errorMessage(error)}`,
    );
  }
  const problems: string[] = [];
  const record = value as Json;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push('not a JSON object');
  } else {
    if (record.id !== id) problems.push(`id must be ${JSON.stringify(id)}`);
    if (record.model !== model) problems.push(`model must be ${JSON.stringify(model)}`);
    if (typeof record.receivedAt !== 'string' || Number.isNaN(Date.parse(record.receivedAt)))
      problems.push('receivedAt must be an ISO date-time');
    for (const [field, valid] of Object.entries(OPTIONAL_FIELDS)) {
      if (Object.hasOwn(record, field) && !valid(record[field]))
        problems.push(`${field} has a wrong type`);
    }
  }
  if (problems.length > 0) {
    throw new MscrError('integrity', `feedback record ${key} is invalid: ${problems.join('; ')}`);
  }
  return record as unknown as FeedbackRecord;
}

/** Runs `fn` over `items`, `PARALLEL_READS` at a time, results in order. */
async function inChunks<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += PARALLEL_READS)
    results.push(...(await Promise.all(items.slice(i, i + PARALLEL_READS).map(fn))));
  return results;
}

export function createFeedbackStore(objects: ObjectStore): FeedbackStore {
  async function append(
    record: FeedbackRecord,
    input: FeedbackInput | undefined,
    quarantined: boolean,
  ): Promise<void> {
    validateModelName(record.model);
    if (!isFeedbackId(record.id)) {
      throw new MscrError(
        'bad_request',
        `invalid feedback id ${JSON.stringify(record.id)}: use letters, digits, '_' and '-'`,
      );
    }
    const folder = folderOf(record.model, record.receivedAt, quarantined);
    const stored: FeedbackRecord = { ...record };
    delete stored.inputFile;
    delete stored.inputSha256;
    let inputKey: string | undefined;
    if (input !== undefined) {
      const body = encodeInput(input, `input of feedback ${record.id}`);
      stored.inputFile = `${record.id}.${extensionOf(input)}`;
      stored.inputSha256 = sha256Hex(body);
      inputKey = folder + stored.inputFile;
      if (!(await objects.putIfAbsent(inputKey, body))) {
        throw new MscrError(
          'conflict',
          `feedback ${record.id} already has an input in ${objects.uri}`,
        );
      }
    }
    const recordKey = `${folder}${record.id}.json`;
    let written: boolean;
    try {
      written = await objects.putIfAbsent(recordKey, Buffer.from(JSON.stringify(stored)));
    } catch (error) {
      // The record may have landed with its answer lost: keep the input then.
      if (inputKey !== undefined) {
        const landed = await objects.stat(recordKey).catch(() => 'unknown' as const);
        if (landed === undefined) await objects.delete(inputKey).catch(() => undefined);
      }
      throw error;
    }
    if (!written) {
      throw new MscrError('conflict', `feedback ${record.id} already exists in ${objects.uri}`);
    }
  }

  async function readInput(
    record: FeedbackRecord,
    quarantined: boolean,
  ): Promise<FeedbackInput | undefined> {
    if (record.inputFile === undefined) return undefined;
    validateModelName(record.model);
    if (!isFeedbackId(record.id) || !isInputFileOf(record, record.inputFile)) {
      throw new MscrError(
        'integrity',
        `feedback ${JSON.stringify(record.id)} names an invalid input file ${JSON.stringify(record.inputFile)}`,
      );
    }
    const key = folderOf(record.model, record.receivedAt, quarantined) + record.inputFile;
    const bytes = await objects.get(key);
    if (record.inputSha256 !== undefined && sha256Hex(bytes) !== record.inputSha256) {
      throw new MscrError(
        'integrity',
        `${key} in ${objects.uri} does not match the sha256 its feedback record gives`,
      );
    }
    return decodeInput(record.inputFile, bytes, key);
  }

  /** Deletes a quarantined record, record first (an input without a record is invisible). */
  async function removeQuarantined(record: FeedbackRecord): Promise<void> {
    validateModelName(record.model);
    if (!isFeedbackId(record.id))
      throw new MscrError('bad_request', `invalid feedback id ${JSON.stringify(record.id)}`);
    const folder = folderOf(record.model, record.receivedAt, true);
    await objects.delete(`${folder}${record.id}.json`);
    if (record.inputFile !== undefined && isInputFileOf(record, record.inputFile))
      await objects.delete(folder + record.inputFile);
  }

  return {
    append: (record, input, options = {}) => append(record, input, options.quarantine === true),

    async list(model, options = {}) {
      validateModelName(model);
      const since = options.since === undefined ? undefined : parseTime(options.since, 'since');
      const root = rootOf(model, options.quarantined === true);
      const days = (await objects.list(root)).prefixes
        .map((prefix) => prefix.slice(0, -1))
        .filter((day) => DAY.test(day) && (since === undefined || day >= dayOf(since)))
        .sort();
      const records: FeedbackRecord[] = [];
      for (const day of days) {
        const ids = (await objects.list(`${root}${day}/`)).objects
          .filter((name) => name.endsWith('.json') && ID.test(name.slice(0, -'.json'.length)))
          .map((name) => name.slice(0, -'.json'.length));
        const loaded = await inChunks(ids, async (id) => {
          const key = `${root}${day}/${id}.json`;
          return parseRecord(await objects.get(key), key, model, id);
        });
        records.push(
          ...loaded.filter((r) => since === undefined || Date.parse(r.receivedAt) >= since),
        );
      }
      return records.sort(
        (a, b) =>
          Date.parse(a.receivedAt) - Date.parse(b.receivedAt) ||
          (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      );
    },

    readInput: (record, options = {}) => readInput(record, options.quarantined === true),

    async accept(record, reviewer) {
      const input = await readInput(record, true);
      const reviewed: FeedbackRecord = {
        ...record,
        reviewed: { at: new Date().toISOString(), ...(reviewer ? { by: reviewer } : {}) },
      };
      try {
        await append(reviewed, input, false);
      } catch (error) {
        // Accepted before (a review interrupted after the copy): only the deletion is left.
        if (!(error instanceof MscrError && error.code === 'conflict')) throw error;
      }
      await removeQuarantined(record);
    },

    reject: (record) => removeQuarantined(record),
  };
}
