/**
 * `JSON.parse` for Open Inference V2 request bodies, with their large FP32 `data` lists read
 * straight into `Float32Array`s.
 *
 * Why: a V2 JSON request is almost all numbers, and `JSON.parse` turns each into a JS number
 * in an array that the decoder then copies into a tensor: ~240 µs of the service's main thread
 * for one 58.7 KB CIFAR-10 image (3,072 values), the largest single cost of a JSON request.
 * Reading the digits here takes ~100 µs and yields the tensor's values directly
 * (`bench/decode-bench.ts` measures both).
 *
 * The answer is what `JSON.parse` answers, value for value, with one difference: the `data`
 * of an object whose `datatype` is `"FP32"`, when it is a flat list of at least
 * `MIN_LIST_LENGTH` numbers each within FP32's range, is a `Float32Array` of those numbers
 * rounded to FP32, which is what the decoder stores for them anyway. Every other list keeps
 * its exact double values. Anything this reader does not expect (invalid JSON included)
 * goes to `JSON.parse` of the whole text, so errors and their messages are `JSON.parse`'s.
 *
 * Exactness: a number of at most 15 significant digits and at most 22 decimals is computed
 * exactly as its correctly rounded double (an exact integer divided by an exact power of
 * ten: Clinger's fast path). A longer one (float32 values printed as doubles have 16-17
 * digits) is approximated to within 8 units in the last place of a double, which fixes its
 * FP32 value unless the number lies within that distance of the midpoint between two FP32
 * values; such a number, any exponent form, and anything longer is read by `Number()`,
 * which is exact. A list with an approximated number is used only as FP32; elsewhere it is
 * parsed again by `JSON.parse`.
 */

/** Shorter lists are left to JSON.parse: the splice would cost more than it saves. */
export const MIN_LIST_LENGTH = 64;
/** Smaller bodies are left to JSON.parse for the same reason. */
const MIN_BODY_BYTES = 4096;
const FP32_MAX = 3.4028234663852886e38;
/** 2^-47: 64 units in the last place of a double, relative; covers the approximation's error. */
const MARGIN = 7.105427357601002e-15;
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, e) => Number(`1e${e}`));

// A list taken out of the text is replaced by this string (with its index): a body that
// contains it already is parsed by JSON.parse alone, so no client string is mistaken for one.
const MARKER = 'mscr-json-tensor:';
const MARKER_BYTES = Buffer.from(MARKER);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_LIST = 0x5b;
const CLOSE_LIST = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

interface NumberList {
  /** The list's bytes: `[` at start, one past `]` at end. */
  start: number;
  end: number;
  values: Float64Array;
  /** Every value is its correctly rounded double (what JSON.parse gives). */
  exact: boolean;
  /** Every value rounds to its exact FP32 value and is within FP32's range. */
  float32: boolean;
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isDigit(c: number | undefined): c is number {
  return c !== undefined && c >= ZERO && c <= NINE;
}

/** Where lists are read before they are copied out at their size (grows, never shrinks). */
let scratch = new Float64Array(4096);
const SCRATCH_LIMIT = 1 << 20;

/** The JSON number in `bytes[start..end)`, read exactly (as JSON.parse reads it). */
function numberAt(bytes: Uint8Array, start: number, end: number): number {
  return Number(
    Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1'),
  );
}

/**
 * A flat JSON list of numbers starting at `bytes[start]` (`[`), or undefined when it is
 * anything else (nested, mixed, malformed: JSON.parse decides those).
 */
function readNumberList(bytes: Uint8Array, start: number): NumberList | undefined {
  let values = scratch;
  let count = 0;
  let exact = true;
  let float32 = true;
  let i = start + 1;
  let c = bytes[i];
  while (isSpace(c)) c = bytes[++i];
  if (c === CLOSE_LIST) return { start, end: i + 1, values: new Float64Array(0), exact, float32 };
  for (;;) {
    const numberStart = i;
    const negative = c === MINUS;
    if (negative) c = bytes[++i];
    let mantissa = 0;
    let digits = 0; // significant digits in the mantissa
    let decimals = 0;
    if (c === ZERO) {
      c = bytes[++i];
    } else if (c !== undefined && c > ZERO && c <= NINE) {
      do {
        mantissa = mantissa * 10 + (c - ZERO);
        digits++;
        c = bytes[++i] as number; // past the end: undefined, which is no digit
      } while (c >= ZERO && c <= NINE);
    } else {
      return undefined;
    }
    if (c === DOT) {
      c = bytes[++i] as number;
      if (!(c >= ZERO && c <= NINE)) return undefined;
      do {
        if (digits > 0 || c !== ZERO) digits++;
        mantissa = mantissa * 10 + (c - ZERO);
        decimals++;
        c = bytes[++i] as number;
      } while (c >= ZERO && c <= NINE);
    }
    let value: number;
    if (c === 0x65 || c === 0x45) {
      // An exponent: rare in tensors; read exactly by Number().
      c = bytes[++i];
      if (c === PLUS || c === MINUS) c = bytes[++i];
      if (!isDigit(c)) return undefined;
      do c = bytes[++i];
      while (isDigit(c));
      value = numberAt(bytes, numberStart, i);
    } else if (digits > 19 || decimals > 22) {
      value = numberAt(bytes, numberStart, i);
    } else {
      value = mantissa / (POWERS_OF_TEN[decimals] as number);
      if (digits > 15) {
        const rounded = Math.fround(value);
        const margin = value * MARGIN;
        if (Math.fround(value - margin) === rounded && Math.fround(value + margin) === rounded) {
          exact = false; // right as FP32, maybe not as a double
        } else {
          value = numberAt(bytes, negative ? numberStart + 1 : numberStart, i); // sign below
        }
      }
      if (negative) value = -value;
    }
    if (!(value >= -FP32_MAX && value <= FP32_MAX)) float32 = false;
    if (count === values.length) {
      const grown = new Float64Array(values.length * 2);
      grown.set(values);
      values = grown;
      if (grown.length <= SCRATCH_LIMIT) scratch = grown; // a huge list is not kept
    }
    values[count++] = value;
    while (isSpace(c)) c = bytes[++i];
    if (c === COMMA) {
      c = bytes[++i];
      while (isSpace(c)) c = bytes[++i];
      continue;
    }
    if (c === CLOSE_LIST) {
      return { start, end: i + 1, values: values.slice(0, count), exact, float32 };
    }
    return undefined;
  }
}

/** One past the closing quote of the string starting at `bytes[start]`, or -1. */
function skipString(bytes: Uint8Array, start: number): number {
  for (let i = start + 1; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) i++;
  }
  return -1;
}

/** `bytes[start..end)` spell the JSON string `"data"`. */
function isDataKey(bytes: Uint8Array, start: number, end: number): boolean {
  return (
    end - start === 6 &&
    bytes[start + 1] === 0x64 &&
    bytes[start + 2] === 0x61 &&
    bytes[start + 3] === 0x74 &&
    bytes[start + 4] === 0x61
  );
}

/** See the file's comment. */
export function parseInferJson(bytes: Uint8Array): unknown {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (bytes.length < MIN_BODY_BYTES || buffer.includes(MARKER_BYTES)) {
    return JSON.parse(buffer.toString('utf8'));
  }
  const lists = findDataLists(bytes);
  if (lists.length === 0) return JSON.parse(buffer.toString('utf8'));
  const parts: string[] = [];
  let copied = 0;
  lists.forEach((list, index) => {
    // Lists start and end at ASCII bytes, so every cut is at a character boundary.
    parts.push(buffer.toString('utf8', copied, list.start), `"\\u0000${MARKER}${index}"`);
    copied = list.end;
  });
  parts.push(buffer.toString('utf8', copied));
  const prefix = `\u0000${MARKER}`;
  try {
    return JSON.parse(parts.join(''), function (this: unknown, key, value: unknown) {
      if (key !== 'data' || typeof value !== 'string' || !value.startsWith(prefix)) return value;
      const list = lists[Number(value.slice(prefix.length))] as NumberList;
      const holder = this as { datatype?: unknown };
      if (holder.datatype === 'FP32' && list.float32) return new Float32Array(list.values);
      if (list.exact) return Array.from(list.values);
      return JSON.parse(buffer.toString('latin1', list.start, list.end)) as unknown;
    });
  } catch {
    // Invalid JSON around the lists: JSON.parse of the text as sent says what is wrong.
    return JSON.parse(buffer.toString('utf8'));
  }
}

/**
 * The number lists that are the value of a `"data"` key, found by a walk that knows where
 * strings, keys and values are (a list in a key's place, or inside a string, is not one).
 */
function findDataLists(bytes: Uint8Array): NumberList[] {
  const lists: NumberList[] = [];
  // Open containers: true for an object. `afterDataKey`: the last key read was "data" and
  // its colon came; `expectKey`: inside an object, before a key.
  const open: boolean[] = [];
  let expectKey = false;
  let lastKeyIsData = false;
  let afterDataKey = false;
  for (let i = 0; i < bytes.length;) {
    const c = bytes[i];
    if (c === QUOTE) {
      const end = skipString(bytes, i);
      if (end < 0) return [];
      if (expectKey) {
        lastKeyIsData = isDataKey(bytes, i, end);
        expectKey = false;
      }
      afterDataKey = false;
      i = end;
      continue;
    }
    if (c === OPEN_LIST && afterDataKey) {
      const list = readNumberList(bytes, i);
      afterDataKey = false;
      if (list !== undefined && list.values.length >= MIN_LIST_LENGTH) {
        lists.push(list);
        i = list.end;
        continue;
      }
    }
    if (c === OPEN_OBJECT) {
      open.push(true);
      expectKey = true;
      afterDataKey = false;
    } else if (c === OPEN_LIST) {
      open.push(false);
      expectKey = false;
      afterDataKey = false;
    } else if (c === CLOSE_OBJECT || c === CLOSE_LIST) {
      open.pop();
      expectKey = false;
      afterDataKey = false;
    } else if (c === COLON) {
      afterDataKey = lastKeyIsData && open.at(-1) === true;
      lastKeyIsData = false;
    } else if (c === COMMA) {
      expectKey = open.at(-1) === true;
      afterDataKey = false;
    } else if (!isSpace(c)) {
      afterDataKey = false;
    }
    i++;
  }
  return lists;
}
