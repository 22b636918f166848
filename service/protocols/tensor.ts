/**
 * What the protocol adapters share: the decoded tensor, the limits, and the one careful walk
 * from untrusted JSON (flat or nested lists) to a typed array, checked against a manifest.
 *
 * Everything a caller can get wrong is a `bad_request` whose message names the input, the
 * position and what to send instead. Nothing here trusts the body: only own properties are
 * read (a `__proto__` key is just an unknown name), names are looked up in arrays, not in
 * objects, counts are checked against the limits before anything is allocated or iterated,
 * and recursion never goes deeper than the model's rank.
 */
import { MscrError } from '../../connectors/errors.ts';
import type { ModelManifest, TensorDtype, TensorSpec } from '../../connectors/ms/manifest.ts';
import type { V2Datatype } from '../../connectors/sc/v2.ts';
import type { ImagePolicy } from './image-policy.ts';

/** Bounds on one request, checked before work is done. */
export interface DecodeLimits {
  /** Most tensor elements over all inputs of one request. */
  maxElements: number;
  /** Most instances (rows of the batch dimension) in one request. */
  maxBatch: number;
  /** Largest posted image, in pixels, refused before decoding (default: the image policy's cap). */
  maxImagePixels?: number;
  /** Formats, pixel cap, images per request and decode slots; default `DEFAULT_IMAGE_POLICY`. */
  images?: ImagePolicy;
}

/** 4 Mi elements (16 MiB of float32, ~1365 CIFAR-10 images) and 1024 instances. */
export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = {
  maxElements: 4 * 1024 * 1024,
  maxBatch: 1024,
};

export type TensorValues = Float32Array | Int32Array | Uint8Array;

/** One model input, ready for the engine: row-major values of `shape` in the manifest's dtype. */
export interface DecodedTensor {
  name: string;
  dtype: TensorDtype;
  shape: number[];
  /** float32 -> Float32Array, int32 -> Int32Array, bool -> Uint8Array of 0/1. */
  data: TensorValues;
}

/** One model output as the engine returns it. */
export interface OutputTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export function badRequest(message: string, cause?: unknown): MscrError {
  return new MscrError('bad_request', message, cause === undefined ? undefined : { cause });
}

const MAX_QUOTED = 64;

/** Recently quoted texts: the decoders quote tensor names on every request, in their `where`s. */
const quoted = new Map<string, string>();
const MAX_REMEMBERED_QUOTES = 256;

/** A caller's text for a message: single-quoted, escaped, cut to 64 characters. */
export function quote(text: string): string {
  const known = quoted.get(text);
  if (known !== undefined) return known;
  const escaped = JSON.stringify(text).slice(1, -1).replace(/'/g, "\\'");
  const result =
    escaped.length > MAX_QUOTED ? `'${escaped.slice(0, MAX_QUOTED)}...'` : `'${escaped}'`;
  // Short texts only, and a bounded map: callers choose these strings.
  if (text.length <= MAX_QUOTED) {
    if (quoted.size >= MAX_REMEMBERED_QUOTES) quoted.clear();
    quoted.set(text, result);
  }
  return result;
}

/** Any caller's value for a message, short: `"NaN"`, `null`, `{...}`, `[...]`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'bigint') return `${String(value).slice(0, 32)}n`;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    const json = JSON.stringify(value);
    return json.length > MAX_QUOTED + 2 ? `${json.slice(0, MAX_QUOTED + 1)}..."` : json;
  }
  return String(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An own property only: never one inherited through a (polluted) prototype. */
export function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** `1 value`, `2 values`. */
export function plural(count: number, word: string, words = `${word}s`): string {
  return `${count} ${count === 1 ? word : words}`;
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** `'a', 'b'` for messages listing a model's names. */
export function nameList(names: readonly string[]): string {
  return names.map(quote).join(', ');
}

export function findSpec(specs: readonly TensorSpec[], name: string): TensorSpec | undefined {
  return specs.find((spec) => spec.name === name);
}

export function checkLimits(limits: DecodeLimits): DecodeLimits {
  for (const key of ['maxElements', 'maxBatch'] as const) {
    if (!Number.isSafeInteger(limits[key]) || limits[key] < 1) {
      throw new MscrError('config', `decode limit ${key} must be a positive integer`);
    }
  }
  return limits;
}

/** Product of dimensions, or Infinity once it passes `max` (no overflow, no huge loops). */
export function elementCount(shape: readonly number[], max: number): number {
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    if (count > max) return Infinity;
  }
  return count;
}

export function allocate(dtype: TensorDtype, length: number): TensorValues {
  if (dtype === 'float32') return new Float32Array(length);
  if (dtype === 'int32') return new Int32Array(length);
  return new Uint8Array(length);
}

/** Thrown by element readers; the walker adds the input name and position. */
class ElementError extends Error {}

/** Reads one JSON element as the number to store, or throws an `ElementError` reason. */
export type ElementReader = (value: unknown) => number;

const FP32_MAX = 3.4028234663852886e38;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

const integerRange: Partial<Record<V2Datatype, [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [INT32_MIN, INT32_MAX],
  // JSON numbers are doubles: 64-bit integers are exact only up to 2^53 - 1.
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

function number(value: unknown): number {
  if (typeof value !== 'number') throw new ElementError(`${describeValue(value)} is not a number`);
  if (!Number.isFinite(value)) throw new ElementError(`${value} is not a finite number`);
  return value;
}

function float32(value: unknown, limit = FP32_MAX, type = 'FP32'): number {
  const x = number(value);
  if (Math.abs(x) > limit) throw new ElementError(`${x} is outside the range of ${type}`);
  return x;
}

function integer(value: unknown, type: string, range: [number, number]): number {
  const x = number(value);
  if (!Number.isInteger(x)) throw new ElementError(`${x} is not an integer, as ${type} requires`);
  if (x < range[0] || x > range[1]) {
    throw new ElementError(`${x} is outside the range of ${type} (${range[0]}..${range[1]})`);
  }
  return x;
}

function boolean(value: unknown): number {
  if (typeof value !== 'boolean') {
    throw new ElementError(`${describeValue(value)} is not a boolean (true or false)`);
  }
  return value ? 1 : 0;
}

/** JSON numbers or FP32 into float32; one function, so that `walkTensor` can recognise it. */
const readFloat32: ElementReader = (v) => float32(v);
/**
 * V1 (TF Serving) JSON numbers into float32: as `readFloat32`, plus NaN and ±Infinity, which
 * TF Serving's JSON accepts as extensions (see tfserving-json.ts).
 */
export const readV1Float32: ElementReader = (v) =>
  typeof v === 'number' && !Number.isFinite(v) ? v : float32(v);
/** JSON numbers or INT32 into int32 (the same range, so the same checks and messages). */
const readInt32: ElementReader = (v) => integer(v, 'INT32', [INT32_MIN, INT32_MAX]);

/**
 * The reader for elements of `source` (a V2 datatype, or `json` for V1's untyped JSON values)
 * going into a tensor of `target`. Undefined when the pair is not accepted at all.
 */
export function elementReader(
  source: V2Datatype | 'json',
  target: TensorDtype,
): ElementReader | undefined {
  if (target === 'bool') return source === 'BOOL' || source === 'json' ? boolean : undefined;
  if (source === 'json') return target === 'float32' ? readFloat32 : readInt32;
  const range = integerRange[source];
  if (target === 'float32') {
    if (source === 'FP32') return readFloat32;
    if (source === 'FP16') return (v) => float32(v, 65504, 'FP16');
    if (range === undefined) return undefined; // FP64, BOOL, BYTES
    return (v) => {
      const x = integer(v, source, range);
      if (Math.fround(x) !== x) {
        throw new ElementError(
          `${x} has no exact FP32 value (integers beyond 2^24 change); send it as FP32`,
        );
      }
      return x;
    };
  }
  if (range === undefined) return undefined; // floats, BOOL, BYTES into INT32
  if (source === 'INT32') return readInt32;
  return (v) => {
    const x = integer(v, source, range);
    if (x < INT32_MIN || x > INT32_MAX) throw new ElementError(`${x} does not fit in INT32`);
    return x;
  };
}

/**
 * Why this exists: the careful per-element path (`readAt` -> reader -> `number` -> checks,
 * with a try/catch and a position for the message) costs ~190 µs per CIFAR-10 request of
 * 3072 FP32 values on the service's main thread (30 to 600 µs, with what else V8 has
 * seen), where a plain indexed loop takes ~10 µs (bench/decode-bench.ts).
 *
 * A fast fill stores `list[0..]` into `data` from `at` on, in a tight loop, while every value
 * is one its reader accepts as it is (stored exactly as the reader would store it), and
 * returns how many it stored: it stops at the first value that is anything else. The
 * careful walk resumes from there, so it alone decides every error and its message; the
 * fast fill only ever accepts what the careful reader would accept.
 */
type FastFill = (list: ArrayLike<unknown>, data: TensorValues, at: number) => number;

function fastFloat32(list: ArrayLike<unknown>, data: TensorValues, at: number): number {
  let i = 0;
  for (; i < list.length; i++) {
    const v = list[i];
    // Written so that NaN fails too: finite and within FP32, as `float32` requires.
    if (typeof v !== 'number' || !(v >= -FP32_MAX && v <= FP32_MAX)) break;
    data[at + i] = v;
  }
  return i;
}

function fastInt32(list: ArrayLike<unknown>, data: TensorValues, at: number): number {
  let i = 0;
  for (; i < list.length; i++) {
    const v = list[i];
    // `v | 0` is v exactly when v is an integer in INT32's range, as `readInt32` requires.
    if (typeof v !== 'number' || (v | 0) !== v) break;
    data[at + i] = v;
  }
  return i;
}

/** A binary FP32 tensor (see v2-binary.ts): copied at once, then checked to be finite. */
function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v - v !== 0) return false; // NaN and ±Infinity (v - v is NaN)
  }
  return true;
}

function fastFloat32Array(source: Float32Array, data: TensorValues): number {
  data.set(source);
  let i = 0;
  for (; i < source.length; i++) {
    const v = source[i] as number;
    // Every finite float32 is within FP32's range; NaN and ±Infinity are not (v - v is NaN).
    if (v - v !== 0) break;
  }
  return i;
}

function fastFillFor(read: ElementReader, dtype: TensorDtype): FastFill | undefined {
  // The fast fill stores only finite values, which both readers store as they are.
  if ((read === readFloat32 || read === readV1Float32) && dtype === 'float32') return fastFloat32;
  if (read === readInt32 && dtype === 'int32') return fastInt32;
  return undefined;
}

export interface WalkOptions {
  /** Names the tensor in messages: `input 'image' data`, `instances[2]`. */
  where: string;
  /** Expected dimensions; `-1` = learn it from the data. */
  shape: readonly number[];
  /** Most elements accepted. */
  maxElements: number;
  read: ElementReader;
  dtype: TensorDtype;
  /** Accept a flat list of all elements (V2) as well as the natural nesting. */
  allowFlat?: boolean;
  /** Says where `shape` came from when it is not the model's, e.g. ` as in instances[0]`. */
  shapeNote?: string;
}

function positionText(where: string, path: readonly number[]): string {
  return `${where}${path.map((i) => `[${i}]`).join('')}`;
}

/**
 * Untrusted JSON (a nested list in the natural shape, or with `allowFlat` a flat list) ->
 * `{shape, data}`. The nesting must be rectangular and match every known dimension; `-1`
 * dimensions are learnt from the first element along them. Nothing is iterated before the
 * element count passed the limit.
 *
 * With `allowFlat`, a `Float32Array` is taken as a flat list too: the binary tensor data
 * extension's FP32 values (v2-binary.ts), checked like JSON numbers (count, finite).
 */
export function walkTensor(
  value: unknown,
  options: WalkOptions,
): { shape: number[]; data: TensorValues } {
  const { where, maxElements, read } = options;
  const rank = options.shape.length;
  const known = options.shape.every((d) => d >= 0);
  const fast = fastFillFor(read, options.dtype);

  if (options.allowFlat && known && (Array.isArray(value) || value instanceof Float32Array)) {
    const first: unknown = value[0];
    if (rank <= 1 || value.length === 0 || !Array.isArray(first)) {
      const count = elementCount(options.shape, maxElements);
      if (count === Infinity) {
        throw badRequest(
          `${where}: shape ${shapeText(options.shape)} has more than ${maxElements} elements; send fewer instances per request`,
        );
      }
      if (value.length !== count) {
        throw badRequest(
          `${where} has ${plural(value.length, 'value')}; shape ${shapeText(options.shape)} needs ${count}: send exactly that many, flat in row-major order or nested like the shape`,
        );
      }
      // A Float32Array comes only from mscr's own decoders (binary tensors, and FP32 JSON
      // lists read by json-tensors.ts), fresh and owned by this request: FP32 into float32 takes it as it is when every value is finite.
      if (value instanceof Float32Array && fast === fastFloat32 && allFinite(value))
        return { shape: [...options.shape], data: value };
      const data = allocate(options.dtype, count);
      let i = 0; // elements stored by a fast fill; the careful reader takes the rest
      if (value instanceof Float32Array) {
        if (fast === fastFloat32) i = fastFloat32Array(value, data); // FP32 into float32
      } else if (fast !== undefined) {
        i = fast(value, data, 0);
      }
      for (; i < count; i++) data[i] = readAt(read, value[i], where, [i]);
      return { shape: [...options.shape], data };
    }
  }

  // Learn the dimensions along the first path: value[0][0]...
  const shape: number[] = [];
  let node: unknown = value;
  for (let d = 0; d < rank; d++) {
    if (!Array.isArray(node)) {
      throw badRequest(
        `${positionText(where, new Array<number>(d).fill(0))} is ${describeValue(node)}, expected a list of ${dimText(options.shape[d] as number)} (rank ${rank}, shape ${shapeText(options.shape)}${options.shapeNote ?? ''})`,
      );
    }
    const expected = options.shape[d] as number;
    if (expected >= 0 && node.length !== expected) {
      throw badRequest(
        `${positionText(where, new Array<number>(d).fill(0))} has ${plural(node.length, 'entry', 'entries')}; dimension ${d} must be ${expected} (shape ${shapeText(options.shape)}${options.shapeNote ?? ''})`,
      );
    }
    if (node.length === 0) {
      throw badRequest(
        `${positionText(where, new Array<number>(d).fill(0))} is empty; dimension ${d} needs at least one entry`,
      );
    }
    shape.push(node.length);
    node = node[0];
  }
  const count = elementCount(shape, maxElements);
  if (count === Infinity) {
    throw badRequest(
      `${where} has more than ${maxElements} elements (shape ${shapeText(shape)}); send fewer instances per request`,
    );
  }
  const data = allocate(options.dtype, count);
  let offset = 0;
  const path: number[] = [];
  const fill = (current: unknown, depth: number): void => {
    if (depth === rank) {
      data[offset++] = readAt(read, current, where, path);
      return;
    }
    const size = shape[depth] as number;
    if (!Array.isArray(current) || current.length !== size) {
      const got = Array.isArray(current)
        ? `has ${plural(current.length, 'entry', 'entries')}`
        : `is ${describeValue(current)}`;
      throw badRequest(
        `${positionText(where, path)} ${got}, expected a list of ${size}: the nesting must be rectangular, shape ${shapeText(shape)}`,
      );
    }
    let i = 0;
    if (fast !== undefined && depth === rank - 1) {
      // The innermost list: its plain values in one tight loop, the rest (if any) carefully.
      i = fast(current, data, offset);
      offset += i;
    }
    for (; i < size; i++) {
      path.push(i);
      fill(current[i], depth + 1);
      path.pop();
    }
  };
  fill(value, 0);
  return { shape, data };
}

function dimText(dim: number): string {
  return dim >= 0 ? String(dim) : 'any length';
}

function readAt(
  read: ElementReader,
  value: unknown,
  where: string,
  path: readonly number[],
): number {
  if (Array.isArray(value)) {
    throw badRequest(
      `${positionText(where, path)} is a list, but the shape has no more dimensions here: nest exactly as deep as the shape, or send a flat list`,
    );
  }
  try {
    return read(value);
  } catch (error) {
    if (error instanceof ElementError) {
      throw badRequest(`${positionText(where, path)}: ${error.message}`);
    }
    throw error;
  }
}

/** The input spec a single-input shortcut (bare instance, bare `inputs`) refers to. */
export function singleInput(manifest: ModelManifest, what: string): TensorSpec {
  const [first, second] = manifest.inputs;
  if (first === undefined || second !== undefined) {
    throw badRequest(
      `${what} works only for a model with one input; this model has ${manifest.inputs.length} (${nameList(manifest.inputs.map((s) => s.name))}): name each input`,
    );
  }
  return first;
}

/**
 * Inputs whose manifest shape starts with `-1` are batched together: they must agree on the
 * batch size, and the batch must stay within the limit.
 */
export function checkBatch(
  manifest: ModelManifest,
  tensors: readonly DecodedTensor[],
  limits: DecodeLimits,
): void {
  let batch: { size: number; name: string } | undefined;
  for (const tensor of tensors) {
    const spec = findSpec(manifest.inputs, tensor.name);
    if (spec?.shape[0] !== -1) continue;
    const size = tensor.shape[0] as number;
    if (size > limits.maxBatch) {
      throw badRequest(
        `input ${quote(tensor.name)} has a batch of ${size}; at most ${limits.maxBatch} instances per request`,
      );
    }
    if (batch !== undefined && batch.size !== size) {
      throw badRequest(
        `inputs ${quote(batch.name)} and ${quote(tensor.name)} have batch sizes ${batch.size} and ${size}; batched inputs must agree`,
      );
    }
    batch ??= { size, name: tensor.name };
  }
}

/**
 * A float32 as the shortest decimal that reads back as the same float32, so JSON carries
 * `0.1`, not `0.10000000149011612`. Non-finite values have no JSON form: that is a model
 * fault, `internal`.
 */
export function float32ToJson(value: number, where: string): number {
  if (!Number.isFinite(value)) {
    throw new MscrError('internal', `${where} contains ${value}, which JSON cannot carry`);
  }
  for (let digits = 6; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return Number(value.toPrecision(9));
}

/** Row-major values -> nested lists of `shape` (a leaf per element), with `leaf` per value. */
export function nest<T>(
  values: ArrayLike<number>,
  shape: readonly number[],
  leaf: (v: number) => T,
): unknown {
  let offset = 0;
  const build = (depth: number): unknown => {
    if (depth === shape.length) return leaf(values[offset++] as number);
    const out: unknown[] = new Array<unknown>(shape[depth] as number);
    for (let i = 0; i < out.length; i++) out[i] = build(depth + 1);
    return out;
  };
  return build(0);
}

/** Checks an engine output against its claimed shape before it is encoded. */
export function checkOutput(output: OutputTensor): void {
  const count = output.shape.reduce((a, b) => a * b, 1);
  if (
    !output.shape.every((d) => Number.isSafeInteger(d) && d >= 0) ||
    count !== output.data.length
  ) {
    throw new MscrError(
      'internal',
      `output ${quote(output.name)} has ${output.data.length} values for shape ${shapeText(output.shape)}`,
    );
  }
}
