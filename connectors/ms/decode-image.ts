/**
 * Image bytes (JPEG, PNG, WebP, ...) -> raw HWC uint8 pixels, with sharp (libvips).
 * Shared by the image-folder loader and by the serving side for posted images.
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { MscrError } from '../errors.ts';

/** Inputs above this many pixels are refused before decoding (decompression bombs). */
export const DEFAULT_MAX_INPUT_PIXELS = 40_000_000;
/** Largest target side accepted. */
export const MAX_TARGET_SIDE = 8192;

export interface DecodeOptions {
  height: number;
  width: number;
  channels: 1 | 3;
  /** Refuse inputs with more pixels than this (default 40 megapixels). */
  maxInputPixels?: number;
  /** Names the input in error messages, e.g. a file name. */
  source?: string;
  /** false: refuse an image of another size instead of resizing it (default true). */
  resize?: boolean;
}

export interface ImageSize {
  height: number;
  width: number;
}

function describe(source: string | undefined): string {
  return source === undefined ? 'image' : `image ${source}`;
}

function checkTarget(options: DecodeOptions): void {
  for (const key of ['height', 'width'] as const) {
    const side = options[key];
    if (!Number.isInteger(side) || side < 1 || side > MAX_TARGET_SIDE) {
      throw new MscrError(
        'bad_data',
        `target ${key} ${side} is not an integer in 1..${MAX_TARGET_SIDE}`,
      );
    }
  }
  if (options.channels !== 1 && options.channels !== 3) {
    throw new MscrError('bad_data', `channels must be 1 or 3, got ${String(options.channels)}`);
  }
}

function decodeError(source: string | undefined, error: unknown): MscrError {
  // libvips keeps its error details in one buffer shared by every thread, and sharp appends
  // all of it: when images decode at once a reason can carry other images' lines, or lose its
  // own details. Only the first line is kept (sharp's words and at most one detail), without
  // a dangling colon.
  const text = error instanceof Error ? error.message : String(error);
  let reason = (text.split('\n', 1)[0] ?? '').trimEnd();
  if (reason.endsWith(':')) reason = reason.slice(0, -1);
  return new MscrError('bad_data', `cannot decode ${describe(source)}: ${reason}`, {
    cause: error,
  });
}

/** Width and height from the image header, without decoding the pixels. */
export async function readImageSize(
  bytes: Uint8Array,
  options: { maxInputPixels?: number; source?: string } = {},
): Promise<ImageSize> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, {
      limitInputPixels: options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS,
    }).metadata();
  } catch (error) {
    throw decodeError(options.source, error);
  }
  const { width, height } = meta.autoOrient; // EXIF orientation applied
  if (!(width > 0) || !(height > 0)) {
    throw new MscrError('bad_data', `cannot decode ${describe(options.source)}: no dimensions`);
  }
  return { height, width };
}

/**
 * Decodes, turns upright (EXIF), drops alpha, converts to sRGB (3 channels) or grey (1),
 * resizes to `height` x `width` (stretching, as a model input does; no-op when the size
 * already matches) and returns the HWC uint8 pixels.
 */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions): Promise<Uint8Array> {
  checkTarget(options);
  const { height, width, channels, source } = options;
  if (bytes.length === 0) {
    throw new MscrError('bad_data', `cannot decode ${describe(source)}: it is empty`);
  }
  let result: { data: Buffer; info: OutputInfo };
  try {
    let pipeline = sharp(bytes, {
      limitInputPixels: options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS,
      autoOrient: true,
      failOn: 'error',
    })
      .removeAlpha()
      .toColourspace(channels === 1 ? 'b-w' : 'srgb');
    if (options.resize !== false) pipeline = pipeline.resize({ width, height, fit: 'fill' });
    result = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw decodeError(source, error);
  }
  const { data, info } = result;
  if (
    info.width !== width ||
    info.height !== height ||
    info.channels !== channels ||
    data.length !== height * width * channels
  ) {
    throw new MscrError(
      'bad_data',
      `${describe(source)} is ${info.width}x${info.height} with ${info.channels} channels; expected ${width}x${height} with ${channels}${options.resize === false ? ' (resizing is off)' : ''}`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}
