/**
 * What the service agrees to decode, checked before a decoder sees the bytes: decoding is
 * the cheapest way to make a model server burn CPU and memory (a 920-byte AVIF of 6300x6300
 * costs a second of CPU and gigabytes; SVG is a whole renderer). So:
 *
 * - formats: JPEG, PNG and WebP by default (what the README promises), more by
 *   configuration (`MSCR_IMAGE_FORMATS`: gif, tiff, avif, heif); recognised by their magic
 *   bytes. SVG, and anything unrecognised, is never decoded.
 * - pixels: a cap derived from the model's input size (a 32x32 model gets no 40-megapixel
 *   photo), given to sharp as `limitInputPixels`, which reads it from the header.
 * - images per request (V1 `{"b64"}` instances), and decodes at once over the whole process
 *   (a semaphore with a bounded queue: past it, a 503 the client may retry).
 */
import os from 'node:os';
import { MscrError } from '../../connectors/errors.ts';

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif' | 'heif';
export const IMAGE_FORMATS: readonly ImageFormat[] = [
  'jpeg',
  'png',
  'webp',
  'gif',
  'tiff',
  'avif',
  'heif',
];
export const DEFAULT_IMAGE_FORMATS: readonly ImageFormat[] = ['jpeg', 'png', 'webp'];

/** Pixels allowed per model input pixel (a 224x224 model: 12.8 MP). */
const PIXELS_PER_INPUT_PIXEL = 256;
/** The cap never goes below this (4 MP, a phone photo scaled once) ... */
const MIN_PIXEL_CAP = 2048 * 2048;
/** ... nor above this. */
const MAX_PIXEL_CAP = 40_000_000;

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
    'latin1',
    start,
    Math.min(end, bytes.byteLength),
  );
}

/** The format by magic bytes; `svg` and `undefined` are never decoded. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | 'svg' | undefined {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (ascii(b, 0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (/^GIF8[79]a$/.test(ascii(b, 0, 6))) return 'gif';
  const tiff = ascii(b, 0, 4);
  if (tiff === 'II*\x00' || tiff === 'MM\x00*') return 'tiff';
  if (ascii(b, 4, 8) === 'ftyp') {
    const brand = ascii(b, 8, 12);
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1'].includes(brand))
      return 'heif';
  }
  // XML or SVG, possibly after a BOM or whitespace: never rendered.
  const head = ascii(b, 0, 256)
    .replace(/^\xef\xbb\xbf/, '')
    .trimStart()
    .toLowerCase();
  if (head.startsWith('<')) return 'svg';
  return undefined;
}

/** A counting semaphore with a bounded queue. */
export class Semaphore {
  readonly limit: number;
  readonly maxWaiting: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number, maxWaiting: number) {
    this.limit = limit;
    this.maxWaiting = maxWaiting;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `work` when a slot is free; a 503 when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) {
      if (this.#waiting.length >= this.maxWaiting) {
        throw new MscrError(
          'unavailable',
          `the server is decoding ${this.#active} images with ${this.#waiting.length} more waiting; retry shortly`,
        );
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

export interface ImagePolicy {
  formats: ReadonlySet<ImageFormat>;
  /** A fixed pixel cap; undefined: derived from each model's input size. */
  maxPixels?: number;
  /** Most images one request may carry. */
  maxPerRequest: number;
  /** Decodes running at once over the whole process. */
  decodes: Semaphore;
}

export interface ImagePolicyOptions {
  formats?: readonly ImageFormat[];
  maxPixels?: number;
  maxPerRequest?: number;
  concurrency?: number;
  maxWaiting?: number;
}

export function createImagePolicy(options: ImagePolicyOptions = {}): ImagePolicy {
  const concurrency = options.concurrency ?? Math.max(1, os.availableParallelism());
  return {
    formats: new Set(options.formats ?? DEFAULT_IMAGE_FORMATS),
    ...(options.maxPixels !== undefined && options.maxPixels > 0
      ? { maxPixels: options.maxPixels }
      : {}),
    maxPerRequest: options.maxPerRequest ?? 16,
    decodes: new Semaphore(concurrency, options.maxWaiting ?? 256),
  };
}

/** The default policy of code paths not given one (tests, tools). */
export const DEFAULT_IMAGE_POLICY: ImagePolicy = createImagePolicy();

/** The largest input image, in pixels, for a model of `height` x `width`. */
export function pixelCapFor(policy: ImagePolicy, height: number, width: number): number {
  if (policy.maxPixels !== undefined) return policy.maxPixels;
  return Math.min(MAX_PIXEL_CAP, Math.max(MIN_PIXEL_CAP, height * width * PIXELS_PER_INPUT_PIXEL));
}

/**
 * Refuses bytes of a format the policy does not allow, before any decoder runs: 415 for a
 * request body (`status`), 400 for an image inside JSON.
 */
export function checkImageFormat(
  bytes: Uint8Array,
  policy: ImagePolicy,
  what: string,
  status: 400 | 415,
): ImageFormat {
  const format = sniffImageFormat(bytes);
  const allowed = [...policy.formats].join(', ');
  if (format === undefined || format === 'svg' || !policy.formats.has(format)) {
    const found =
      format === undefined
        ? 'not an image format this server recognises'
        : `${format.toUpperCase()}`;
    throw new MscrError(
      'bad_request',
      `${what} is ${found}; this server decodes ${allowed} (MSCR_IMAGE_FORMATS)`,
      { status },
    );
  }
  return format;
}

/** Parses `MSCR_IMAGE_FORMATS` (`jpeg,png,webp,avif`). */
export function parseImageFormats(text: string): ImageFormat[] {
  const names = text
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '')
    .map((name) => (name === 'jpg' ? 'jpeg' : name === 'heic' ? 'heif' : name));
  const unknown = names.filter((name) => !(IMAGE_FORMATS as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new MscrError(
      'config',
      `image formats must be a comma-separated list of ${IMAGE_FORMATS.join(', ')}, got ${JSON.stringify(text)}${unknown.length > 0 ? ` (${unknown.join(', ')} unknown; svg is never decoded)` : ''}`,
    );
  }
  return [...new Set(names)] as ImageFormat[];
}

/** Counts `{"b64": ...}` objects in a parsed JSON body, stopping once past `max`. */
export function countB64(value: unknown, max: number): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && count <= max) {
    const item = stack.pop();
    if (Array.isArray(item)) {
      for (const child of item) if (typeof child === 'object' && child !== null) stack.push(child);
    } else if (typeof item === 'object' && item !== null) {
      if (Object.hasOwn(item, 'b64')) count++;
      else
        for (const child of Object.values(item))
          if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return count;
}
