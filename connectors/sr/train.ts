/**
 * SR connector, training as a service: what a client asks of `POST /mscr/train` and
 * `POST /mscr/models/{m}/evaluate`, the hyperparameter search grammar shared by those bodies
 * and `mscr retrain --search`, and what a run records about its trials and progress.
 *
 * Everything a caller sends is validated here, in one place, so the HTTP route, the CLI and
 * the job read the same rules: unknown keys, wrong types, out-of-range numbers, oversized
 * lists and data URIs that are not `file://`, `s3://` or `gs://` (or that climb out of their
 * folder with `..`) are a `bad_request` naming the field.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MscrError } from '../errors.ts';
import { validateModelName } from '../ms/manifest.ts';

/** Hyperparameters a search may vary, with the aliases the CLI grammar accepts. */
export const SEARCH_PARAMETERS = {
  learningRate: {
    aliases: ['lr', 'learningRate', 'learning-rate'],
    integer: false,
    min: 1e-7,
    max: 10,
  },
  batchSize: { aliases: ['batchSize', 'batch-size', 'bs'], integer: true, min: 1, max: 4096 },
  epochs: { aliases: ['epochs'], integer: true, min: 1, max: 1000 },
} as const;
export type SearchParameter = keyof typeof SEARCH_PARAMETERS;

/** Hyperparameters a request may fix (a search varies some of the first three). */
const HYPERPARAMETERS = {
  ...SEARCH_PARAMETERS,
  seed: { aliases: ['seed'], integer: true, min: 1, max: 2 ** 31 - 1 },
  limit: { aliases: ['limit'], integer: true, min: 1, max: 10_000_000 },
  testFraction: { aliases: ['testFraction'], integer: false, min: 0.01, max: 0.9 },
} as const;
export type Hyperparameters = Partial<Record<keyof typeof HYPERPARAMETERS, number>>;

export const SEARCH_MODES = ['grid', 'random'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

/** Most trials one run may train: each is a full training. */
export const MAX_TRIALS = 50;
/** Most values one parameter of a search space may list. */
export const MAX_VALUES = 20;

/** A search: values per parameter, how to pick combinations, and how many to train. */
export interface SearchSpec {
  mode: SearchMode;
  space: Partial<Record<SearchParameter, number[]>>;
  trials: number;
  seed?: number;
}

/** `POST /mscr/train`. */
export interface TrainRequest {
  model: string;
  architecture?: string;
  /** Training data: `file://`, `s3://` or `gs://` URIs (one, or a list). */
  data: string[];
  hyperparameters?: Hyperparameters;
  search?: SearchSpec;
}

/** 202 answer of `POST /mscr/train`; `Location` is `/mscr/train/{id}`. */
export interface TrainResponse {
  id: string;
  model: string;
  runId: string;
  state: 'started';
}

/** What a launcher needs to start a training run instead of a plain retraining run. */
export interface RunPlan {
  data?: string[];
  architecture?: string;
  hyperparameters?: Hyperparameters;
  search?: SearchSpec;
}

/** One trained candidate of a run. */
export interface TrialRecord {
  trial: number;
  hyperparameters: Hyperparameters;
  metrics?: Record<string, number>;
  durationMs: number;
  /** Why it failed, when it did (the other trials go on). */
  error?: string;
  /** The one gated against the serving version. */
  best?: boolean;
}

/** One progress entry of a run, as the job writes it to the run record. */
export type ProgressEntry = { seq: number; at: string } & (
  | { type: 'state'; message: string }
  | {
      type: 'epoch';
      trial: number;
      epoch: number;
      epochs: number;
      loss: number;
      metrics: Record<string, number>;
    }
  | { type: 'trial'; record: TrialRecord }
);

/** Most progress entries a run record keeps: the oldest epoch entries go first. */
export const MAX_PROGRESS = 400;

/** `POST /mscr/models/{m}/evaluate`. */
export interface EvaluateRequest {
  /** A version number or an alias; absent: the latest. */
  version?: number | string;
  data: string[];
  limit?: number;
}

export interface EvaluateResponse {
  model: string;
  version: number;
  metrics: Record<string, number>;
  report?: unknown;
}

const RUN_ID = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;

/** The public id of a training run: `<model>~<run id>` (`~` is in no model name). */
export function trainId(model: string, runId: string): string {
  return `${model}~${runId}`;
}

export function parseTrainId(id: string): { model: string; runId: string } {
  const at = id.lastIndexOf('~');
  const runId = id.slice(at + 1);
  if (at <= 0 || id.length > 120 || !RUN_ID.test(runId)) {
    throw new MscrError(
      'not_found',
      `no training run ${JSON.stringify(id.slice(0, 120))}: ids look like <model>~20261203T181500Z-0a1b2c3d`,
    );
  }
  return { model: validateModelName(id.slice(0, at)), runId };
}

const bad = (message: string) => new MscrError('bad_request', message);
const show = (value: unknown) => JSON.stringify(value)?.slice(0, 60) ?? String(value);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], where: string): void {
  const extra = Object.keys(value).find((key) => !allowed.includes(key));
  if (extra !== undefined) {
    throw bad(`${where}: unknown field ${show(extra)}; allowed: ${allowed.join(', ')}`);
  }
}

/** The canonical name of a hyperparameter (or search parameter) from any alias. */
function canonical(
  name: string,
  table: Record<string, { aliases: readonly string[] }>,
  where: string,
): string {
  const found = Object.entries(table).find(([, spec]) => spec.aliases.includes(name));
  if (found === undefined) {
    throw bad(
      `${where}: unknown parameter ${show(name)}; use one of ${Object.keys(table).join(', ')}`,
    );
  }
  return found[0];
}

function checkNumber(
  value: unknown,
  spec: { integer: boolean; min: number; max: number },
  where: string,
): number {
  const n = typeof value === 'string' && /^[0-9.eE+-]{1,24}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw bad(`${where}: expected a number, got ${show(value)}`);
  }
  if (spec.integer && !Number.isInteger(n)) {
    throw bad(`${where}: expected an integer, got ${show(value)}`);
  }
  if (n < spec.min || n > spec.max) {
    throw bad(`${where}: ${n} is out of range (${spec.min} to ${spec.max})`);
  }
  return n;
}

/** A trial budget: 1 to `MAX_TRIALS`. */
export function checkTrials(value: unknown, where = 'trials'): number {
  const n = checkNumber(value, { integer: true, min: -Infinity, max: Infinity }, where);
  if (n < 1) throw bad(`${where}: ${n} is out of range (1 to ${MAX_TRIALS})`);
  if (n > MAX_TRIALS) {
    throw bad(`${where}: ${n} trials is more than one run trains (at most ${MAX_TRIALS})`);
  }
  return n;
}

export function checkSearchMode(value: unknown, where = 'search.mode'): SearchMode {
  if (!SEARCH_MODES.includes(value as SearchMode)) {
    throw bad(`${where}: expected ${SEARCH_MODES.join(' or ')}, got ${show(value)}`);
  }
  return value as SearchMode;
}

function checkValues(name: SearchParameter, values: unknown, where: string): number[] {
  if (!Array.isArray(values) || values.length === 0) {
    throw bad(`${where}: expected a non-empty list of numbers`);
  }
  if (values.length > MAX_VALUES) {
    throw bad(`${where}: at most ${MAX_VALUES} values, got ${values.length}`);
  }
  const numbers = values.map((v, i) => checkNumber(v, SEARCH_PARAMETERS[name], `${where}[${i}]`));
  return [...new Set(numbers)];
}

/**
 * One `--search name=v1,v2,...` flag (`lr=0.001,0.003`, `batchSize=16,32`) added to a space.
 * The same parameter twice is an error, not a silent merge.
 */
export function parseSearchFlag(
  text: string,
  space: Partial<Record<SearchParameter, number[]>> = {},
): Partial<Record<SearchParameter, number[]>> {
  const match = /^([A-Za-z][\w-]{0,30})=(.+)$/.exec(text.trim());
  if (match === null) {
    throw bad(`--search ${show(text)}: expected name=value[,value...], e.g. lr=0.001,0.003`);
  }
  const name = canonical(match[1] as string, SEARCH_PARAMETERS, `--search ${show(text)}`);
  const key = name as SearchParameter;
  if (space[key] !== undefined) throw bad(`--search: ${name} is given twice`);
  const values = (match[2] as string).split(',').map((v) => v.trim());
  if (values.some((v) => v === '')) throw bad(`--search ${show(text)}: an empty value`);
  return { ...space, [key]: checkValues(key, values, `--search ${name}`) };
}

/** The search of a request body: `{mode, space, trials, seed?}`. */
export function parseSearch(value: unknown, where = 'search'): SearchSpec {
  if (!isObject(value)) throw bad(`${where}: expected an object {mode, space, trials}`);
  onlyKeys(value, ['mode', 'space', 'trials', 'seed'], where);
  const mode = checkSearchMode(value.mode ?? 'grid', `${where}.mode`);
  if (!isObject(value.space) || Object.keys(value.space).length === 0) {
    throw bad(`${where}.space: expected an object of parameter -> list of values`);
  }
  const space: Partial<Record<SearchParameter, number[]>> = {};
  for (const [name, values] of Object.entries(value.space)) {
    const key = canonical(name, SEARCH_PARAMETERS, `${where}.space`) as SearchParameter;
    if (space[key] !== undefined) throw bad(`${where}.space: ${key} is given twice`);
    space[key] = checkValues(key, values, `${where}.space.${key}`);
  }
  const trials = checkTrials(value.trials, `${where}.trials`);
  return {
    mode,
    space,
    trials,
    ...(value.seed !== undefined
      ? { seed: checkNumber(value.seed, HYPERPARAMETERS.seed, `${where}.seed`) }
      : {}),
  };
}

export function parseHyperparameters(value: unknown, where = 'hyperparameters'): Hyperparameters {
  if (!isObject(value)) throw bad(`${where}: expected an object`);
  const out: Hyperparameters = {};
  for (const [name, raw] of Object.entries(value)) {
    const key = canonical(name, HYPERPARAMETERS, where) as keyof typeof HYPERPARAMETERS;
    out[key] = checkNumber(raw, HYPERPARAMETERS[key], `${where}.${key}`);
  }
  return out;
}

const MAX_URI = 1024;
const MAX_SOURCES = 16;

/**
 * A data URI a caller may name: `s3://bucket/key`, `gs://bucket/key`, or `file:///abs/path`
 * inside one of `fileRoots` (none given: `file://` is refused, so an admin token cannot
 * make the service read any file of its machine). No `..` segment, no control characters,
 * no query or fragment, no percent-encoded separators.
 */
export function checkDataUri(value: unknown, fileRoots: readonly string[], where = 'data'): string {
  if (typeof value !== 'string' || value === '') throw bad(`${where}: expected a URI string`);
  if (value.length > MAX_URI) throw bad(`${where}: longer than ${MAX_URI} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\?#]/.test(value)) {
    throw bad(`${where}: control characters, backslashes, queries and fragments are not allowed`);
  }
  // A comma separates URIs on the job's command line (--data a,b): one inside a URI would
  // smuggle in a second, unchecked one.
  if (value.includes(',')) throw bad(`${where}: a comma is not allowed in a URI`);
  if (/%2f|%5c|%2e|%00/i.test(value)) throw bad(`${where}: percent-encoded separators or dots`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme !== 'file' && scheme !== 's3' && scheme !== 'gs') {
    throw bad(`${where}: expected a URI of scheme file, s3 or gs, got ${show(value)}`);
  }
  const rest = value.slice(scheme.length + 3);
  if (rest.split('/').some((segment) => segment === '..' || segment === '.')) {
    throw bad(`${where}: '.' and '..' path segments are not allowed`);
  }
  if (scheme !== 'file') {
    if (!/^[a-z0-9][a-z0-9.-]{1,62}\/[^\s]+$/.test(rest)) {
      throw bad(`${where}: expected ${scheme}://<bucket>/<key or prefix>, got ${show(value)}`);
    }
    return value;
  }
  if (!rest.startsWith('/')) {
    throw bad(`${where}: a file URI needs an absolute path (three slashes after "file:")`);
  }
  if (fileRoots.length === 0) {
    throw bad(
      `${where}: file data is off in this service: start it with --train-data-root <dir> (MSCR_TRAIN_DATA_ROOTS) to allow a folder`,
    );
  }
  const file = path.resolve(fileURLToPath(value));
  const inside = fileRoots.some((root) => {
    const base = path.resolve(root);
    return file === base || file.startsWith(base.endsWith(path.sep) ? base : base + path.sep);
  });
  if (!inside) throw bad(`${where}: outside the folders this service may read training data from`);
  return value;
}

function checkSources(value: unknown, fileRoots: readonly string[], where = 'data'): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0)
    throw bad(`${where}: expected a URI or a list of URIs`);
  if (list.length > MAX_SOURCES) throw bad(`${where}: at most ${MAX_SOURCES} URIs`);
  return list.map((uri, i) =>
    checkDataUri(uri, fileRoots, list === value ? `${where}[${i}]` : where),
  );
}

const ARCHITECTURE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** The body of `POST /mscr/train`, validated; `architectures`: the names the trainer knows. */
export function parseTrainRequest(
  json: unknown,
  options: { fileRoots: readonly string[]; architectures?: readonly string[] },
): TrainRequest {
  if (!isObject(json)) {
    throw bad('send a JSON object {model, architecture, data, hyperparameters, search}');
  }
  onlyKeys(json, ['model', 'architecture', 'data', 'hyperparameters', 'search'], 'body');
  if (typeof json.model !== 'string') throw bad('model: expected a model name');
  let model: string;
  try {
    model = validateModelName(json.model);
  } catch (error) {
    throw bad(`model: ${(error as Error).message}`);
  }
  let architecture: string | undefined;
  if (json.architecture !== undefined) {
    if (typeof json.architecture !== 'string' || !ARCHITECTURE.test(json.architecture)) {
      throw bad(`architecture: expected an architecture name, got ${show(json.architecture)}`);
    }
    if (options.architectures && !options.architectures.includes(json.architecture)) {
      throw bad(
        `architecture: unknown ${show(json.architecture)}; known: ${options.architectures.join(', ')}`,
      );
    }
    architecture = json.architecture;
  }
  if (json.data === undefined) throw bad('data: required (a URI of scheme file, s3 or gs)');
  const data = checkSources(json.data, options.fileRoots);
  const hyperparameters =
    json.hyperparameters === undefined ? undefined : parseHyperparameters(json.hyperparameters);
  const search = json.search === undefined ? undefined : parseSearch(json.search);
  return {
    model,
    data,
    ...(architecture !== undefined ? { architecture } : {}),
    ...(hyperparameters !== undefined ? { hyperparameters } : {}),
    ...(search !== undefined ? { search } : {}),
  };
}

/** The body of `POST /mscr/models/{m}/evaluate`, validated. */
export function parseEvaluateRequest(
  json: unknown,
  options: { fileRoots: readonly string[] },
): EvaluateRequest {
  if (!isObject(json)) throw bad('send a JSON object {version | alias, data, limit}');
  onlyKeys(json, ['version', 'alias', 'data', 'limit'], 'body');
  if (json.version !== undefined && json.alias !== undefined) {
    throw bad('give version or alias, not both');
  }
  let version: number | string | undefined;
  if (json.version !== undefined) {
    if (
      typeof json.version !== 'number' ||
      !Number.isSafeInteger(json.version) ||
      json.version < 1
    ) {
      throw bad(`version: expected a positive integer, got ${show(json.version)}`);
    }
    version = json.version;
  }
  if (json.alias !== undefined) {
    if (typeof json.alias !== 'string' || !/^[a-z][a-z0-9_-]{0,62}$/.test(json.alias)) {
      throw bad(`alias: expected an alias name, got ${show(json.alias)}`);
    }
    version = json.alias;
  }
  if (json.data === undefined) throw bad('data: required (a URI of scheme file, s3 or gs)');
  const data = checkSources(json.data, options.fileRoots);
  const limit =
    json.limit === undefined
      ? undefined
      : checkNumber(json.limit, { integer: true, min: 1, max: 1_000_000 }, 'limit');
  return {
    data,
    ...(version !== undefined ? { version } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
}

/** `mscr retrain` arguments that carry a run plan (both launchers use them). */
export function planArgs(plan: RunPlan | undefined): string[] {
  if (plan === undefined) return [];
  const args: string[] = [];
  if (plan.data) args.push('--run-data', plan.data.join(','));
  if (plan.architecture) args.push('--arch', plan.architecture);
  const h = plan.hyperparameters ?? {};
  const flags: [keyof Hyperparameters, string][] = [
    ['epochs', '--epochs'],
    ['batchSize', '--batch-size'],
    ['learningRate', '--learning-rate'],
    ['limit', '--limit'],
    ['seed', '--seed'],
    ['testFraction', '--test-fraction'],
  ];
  for (const [key, flag] of flags) {
    const value = h[key];
    if (value !== undefined) args.push(flag, String(value));
  }
  if (plan.search) {
    args.push('--candidates', String(plan.search.trials), '--search-mode', plan.search.mode);
    for (const [name, values] of Object.entries(plan.search.space)) {
      args.push('--search', `${name}=${values.join(',')}`);
    }
    if (plan.search.seed !== undefined) args.push('--search-seed', String(plan.search.seed));
  }
  return args;
}

/**
 * How the Service scores a version on data (`POST /mscr/models/{m}/evaluate`), given by the
 * composition root, like the retraining launcher: the Service knows nothing of how
 * evaluation runs. `signal` aborts it (the client went away).
 */
export interface ModelEvaluator {
  evaluate(
    model: string,
    request: EvaluateRequest,
    signal?: AbortSignal,
  ): Promise<EvaluateResponse>;
}
