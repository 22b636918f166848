/**
 * Small generated data for when the real data folder is absent (demos, smoke tests).
 * Deterministic: the same options and seed give the same data and fingerprint.
 */
import { MscrError } from '../../connectors/errors.ts';
import { fingerprintImages, fingerprintTable } from './fingerprint.ts';
import { createRandom, type Random } from './random.ts';
import type { ImageDataset, NumericTable } from './types.ts';

const COLOURS: { name: string; rgb: [number, number, number] }[] = [
  { name: 'red', rgb: [220, 40, 40] },
  { name: 'green', rgb: [40, 200, 60] },
  { name: 'blue', rgb: [50, 80, 230] },
  { name: 'yellow', rgb: [230, 220, 40] },
  { name: 'cyan', rgb: [40, 210, 220] },
  { name: 'magenta', rgb: [210, 50, 200] },
  { name: 'orange', rgb: [240, 140, 30] },
  { name: 'white', rgb: [240, 240, 240] },
];

/** Shapes as masks on [-1, 1]^2 coordinates, before jitter. */
const SHAPES: { name: string; inside: (u: number, v: number) => boolean }[] = [
  { name: 'square', inside: (u, v) => Math.abs(u) < 0.5 && Math.abs(v) < 0.5 },
  { name: 'disc', inside: (u, v) => u * u + v * v < 0.36 },
  { name: 'hstripes', inside: (_u, v) => Math.floor((v + 1) * 3) % 2 === 0 },
  { name: 'vstripes', inside: (u) => Math.floor((u + 1) * 3) % 2 === 0 },
  { name: 'cross', inside: (u, v) => Math.abs(u) < 0.18 || Math.abs(v) < 0.18 },
  { name: 'diagonal', inside: (u, v) => Math.abs(u - v) < 0.35 },
];

/** Most classes `syntheticImages` can make distinct: every (colour, shape) pair differs. */
export const MAX_SYNTHETIC_CLASSES = 24; // lcm(8 colours, 6 shapes)

export interface SyntheticImageOptions {
  count: number;
  height?: number;
  width?: number;
  classes?: number;
  seed?: number;
}

function clampByte(value: number): number {
  return Math.max(0, Math.min(255, Math.round(value)));
}

function drawImage(
  out: Uint8Array,
  offset: number,
  height: number,
  width: number,
  label: number,
  random: Random,
): void {
  const colour = COLOURS[label % COLOURS.length] as (typeof COLOURS)[number];
  const shape = SHAPES[label % SHAPES.length] as (typeof SHAPES)[number];
  const dx = (random.next() - 0.5) * 0.4;
  const dy = (random.next() - 0.5) * 0.4;
  const scale = 0.8 + random.next() * 0.4;
  const brightness = 0.75 + random.next() * 0.25;
  const background = 30 + random.next() * 70;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = (((x + 0.5) / width) * 2 - 1 - dx) / scale;
      const v = (((y + 0.5) / height) * 2 - 1 - dy) / scale;
      const inside = shape.inside(u, v);
      for (let c = 0; c < 3; c++) {
        const base = inside ? (colour.rgb[c] as number) * brightness : background;
        out[offset + (y * width + x) * 3 + c] = clampByte(base + random.normal() * 18);
      }
    }
  }
}

/**
 * A learnable image task: class k is a (colour, shape) pair, e.g. `red-square`, drawn with
 * random offset, size, brightness, background and pixel noise. Labels go round-robin over
 * the classes, like the real CIFAR-10 folder, so every prefix is balanced.
 */
export function syntheticImages(options: SyntheticImageOptions): ImageDataset {
  const { count, height = 32, width = 32, classes = 10, seed = 1 } = options;
  if (!Number.isInteger(count) || count < 1) {
    throw new MscrError('config', `count must be a positive integer, got ${count}`);
  }
  if (!Number.isInteger(classes) || classes < 2 || classes > MAX_SYNTHETIC_CLASSES) {
    throw new MscrError(
      'config',
      `classes must be an integer in 2..${MAX_SYNTHETIC_CLASSES}, got ${classes}`,
    );
  }
  for (const side of [height, width]) {
    if (!Number.isInteger(side) || side < 4 || side > 1024) {
      throw new MscrError('config', `image sides must be integers in 4..1024, got ${side}`);
    }
  }
  const random = createRandom(seed);
  const size = height * width * 3;
  const pixels = new Uint8Array(count * size);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % classes;
    drawImage(pixels, i * size, height, width, i % classes, random);
  }
  const classNames = Array.from(
    { length: classes },
    (_, k) => `${COLOURS[k % COLOURS.length]?.name}-${SHAPES[k % SHAPES.length]?.name}`,
  );
  const data = { pixels, labels, count, height, width, channels: 3 as const, classNames };
  return {
    kind: 'image',
    ...data,
    sources: [
      `synthetic:images?count=${count}&size=${height}x${width}&classes=${classes}&seed=${seed}`,
    ],
    fingerprint: fingerprintImages(data),
  };
}

export const PRICE_COLUMNS = ['Open', 'High', 'Low', 'Volume', 'Close'];

export interface SyntheticPriceOptions {
  days: number;
  seed?: number;
  /** First close (default 100). */
  start?: number;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/**
 * Daily prices as a seeded geometric random walk, in the GOOG file's columns
 * (Open, High, Low, Volume, Close), oldest first. Low <= Open, Close <= High always.
 */
export function syntheticPrices(options: SyntheticPriceOptions): NumericTable {
  const { days, seed = 1, start = 100 } = options;
  if (!Number.isInteger(days) || days < 1) {
    throw new MscrError('config', `days must be a positive integer, got ${days}`);
  }
  if (!(start > 0)) throw new MscrError('config', `start must be positive, got ${start}`);
  const random = createRandom(seed);
  const rows: number[][] = [];
  let previous = start;
  for (let day = 0; day < days; day++) {
    const open = previous * Math.exp(0.004 * random.normal());
    const close = open * Math.exp(0.0004 + 0.015 * random.normal());
    const high = Math.max(open, close) * Math.exp(Math.abs(0.006 * random.normal()));
    const low = Math.min(open, close) * Math.exp(-Math.abs(0.006 * random.normal()));
    const volume = Math.round(1_500_000 * Math.exp(0.3 * random.normal()));
    const row = [round(open, 4), round(high, 4), round(low, 4), volume, round(close, 4)];
    // Rounding must not break Low <= Open, Close <= High.
    row[1] = Math.max(row[0] as number, row[1] as number, row[4] as number);
    row[2] = Math.min(row[0] as number, row[2] as number, row[4] as number);
    rows.push(row);
    previous = close;
  }
  const columns = [...PRICE_COLUMNS];
  return {
    kind: 'table',
    columns,
    rows,
    sources: [`synthetic:prices?days=${days}&seed=${seed}&start=${start}`],
    fingerprint: fingerprintTable({ columns, rows }),
  };
}
