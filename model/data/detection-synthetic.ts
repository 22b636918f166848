/**
 * A generated object-detection set, the detection counterpart of the shapes demo: each image
 * holds one to four circles, squares and triangles in random colours and sizes on a varied
 * background (a colour gradient with pixel noise), placed so that boxes overlap little. Boxes
 * are the tight boxes of the drawn shapes. Deterministic for a seed. `writeCocoDetection`
 * writes it as PNG files and a COCO JSON (`annotations.json`), which the COCO loader reads.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { MscrError } from '../../connectors/errors.ts';
import { mapWithConcurrency } from './concurrency.ts';
import {
  fingerprintDetections,
  type DetectionDataset,
  type DetectionImage,
  type DetectionObject,
  type PixelBox,
} from './detection-types.ts';
import { createRandom, type Random } from './random.ts';

export const DETECTION_SHAPES = ['circle', 'square', 'triangle'] as const;
export const COCO_FILE = 'annotations.json';

export interface SyntheticDetectionOptions {
  count: number;
  /** Side of the square images in pixels (default 64). */
  size?: number;
  seed?: number;
  /** Most objects per image (default 4; at least one each). */
  maxObjects?: number;
}

/** Pixels of one image before encoding, and its objects. */
interface RawImage {
  pixels: Uint8Array;
  objects: DetectionObject[];
}

type Rgb = [number, number, number];

const clampByte = (value: number) => Math.max(0, Math.min(255, Math.round(value)));

/** HSV (h in [0, 1)) to RGB 0..255. */
function hsv(h: number, s: number, v: number): Rgb {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const rgb = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ][i % 6] as [number, number, number];
  return rgb.map((c) => c * 255) as Rgb;
}

function overlap(a: PixelBox, b: PixelBox): number {
  const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / (a[2] * a[3] + b[2] * b[3] - w * h);
}

/** Is pixel centre (u, v), relative to the shape's box in [0, 1]^2, inside the shape? */
function inside(shape: (typeof DETECTION_SHAPES)[number], u: number, v: number): boolean {
  if (shape === 'square') return u >= 0 && u <= 1 && v >= 0 && v <= 1;
  if (shape === 'circle') return (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25;
  // An upright isosceles triangle: apex at the top centre, base along the bottom.
  return v >= 0 && v <= 1 && Math.abs(u - 0.5) <= v / 2;
}

function drawImage(size: number, maxObjects: number, random: Random): RawImage {
  const pixels = new Uint8Array(size * size * 3);
  // Background: a gradient between two muted colours, in a random direction, plus noise.
  const from = hsv(random.next(), 0.2 + random.next() * 0.4, 0.15 + random.next() * 0.45);
  const to = hsv(random.next(), 0.2 + random.next() * 0.4, 0.15 + random.next() * 0.45);
  const angle = random.next() * Math.PI * 2;
  const [gx, gy] = [Math.cos(angle), Math.sin(angle)];
  const noise = 6 + random.next() * 10;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = Math.min(1, Math.max(0, 0.5 + ((x / size - 0.5) * gx + (y / size - 0.5) * gy)));
      for (let c = 0; c < 3; c++) {
        const base = (from[c] as number) * (1 - t) + (to[c] as number) * t;
        pixels[(y * size + x) * 3 + c] = clampByte(base + random.normal() * noise);
      }
    }
  }
  const wanted = 1 + random.int(maxObjects);
  const placed: { box: PixelBox; shape: number; colour: Rgb }[] = [];
  for (let attempt = 0; attempt < 40 && placed.length < wanted; attempt++) {
    const shape = random.int(DETECTION_SHAPES.length);
    const side = Math.round(size * (0.16 + random.next() * 0.26));
    const width =
      shape === 0 || shape === 1 ? side : Math.round(side * (0.9 + random.next() * 0.3));
    const height = side;
    const w = Math.min(width, size - 2);
    const x = 1 + random.int(size - 1 - w);
    const y = 1 + random.int(size - 1 - height);
    const box: PixelBox = [x, y, w, height];
    if (placed.some((other) => overlap(other.box, box) > 0.1)) continue;
    // Bright, saturated colours stand out from the muted background.
    const colour = hsv(random.next(), 0.6 + random.next() * 0.4, 0.75 + random.next() * 0.25);
    placed.push({ box, shape, colour });
  }
  const objects: DetectionObject[] = [];
  for (const { box, shape, colour } of placed) {
    const [bx, by, bw, bh] = box;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (let y = by; y < by + bh; y++) {
      for (let x = bx; x < bx + bw; x++) {
        const u = (x + 0.5 - bx) / bw;
        const v = (y + 0.5 - by) / bh;
        if (!inside(DETECTION_SHAPES[shape] as (typeof DETECTION_SHAPES)[number], u, v)) continue;
        minX = Math.min(minX, x);
        minY = Math.min(minY, y);
        maxX = Math.max(maxX, x);
        maxY = Math.max(maxY, y);
        for (let c = 0; c < 3; c++) {
          pixels[(y * size + x) * 3 + c] = clampByte((colour[c] as number) + random.normal() * 8);
        }
      }
    }
    // The tight box of the drawn pixels, as an annotator would draw it.
    objects.push({ box: [minX, minY, maxX - minX + 1, maxY - minY + 1], category: shape });
  }
  return { pixels, objects };
}

/** The generated set in memory, with its PNG files encoded (names `000001.png`, ...). */
export async function syntheticDetections(
  options: SyntheticDetectionOptions,
): Promise<DetectionDataset> {
  const { count, size = 64, seed = 1, maxObjects = 4 } = options;
  if (!Number.isSafeInteger(count) || count < 1 || count > 100_000) {
    throw new MscrError('config', `count must be an integer in 1..100000, got ${count}`);
  }
  if (!Number.isSafeInteger(size) || size < 16 || size > 1024) {
    throw new MscrError('config', `size must be an integer in 16..1024, got ${size}`);
  }
  if (!Number.isSafeInteger(maxObjects) || maxObjects < 1 || maxObjects > 10) {
    throw new MscrError('config', `maxObjects must be an integer in 1..10, got ${maxObjects}`);
  }
  const random = createRandom(seed);
  const raw = Array.from({ length: count }, () => drawImage(size, maxObjects, random));
  const images = await mapWithConcurrency(raw, 8, async (image, i): Promise<DetectionImage> => {
    const png = await sharp(image.pixels, { raw: { width: size, height: size, channels: 3 } })
      .png()
      .toBuffer();
    return {
      name: `${String(i + 1).padStart(6, '0')}.png`,
      bytes: new Uint8Array(png.buffer, png.byteOffset, png.length),
      width: size,
      height: size,
      objects: image.objects,
    };
  });
  const classNames = [...DETECTION_SHAPES];
  return {
    kind: 'detection',
    images,
    classNames,
    sources: [`synthetic:detection?count=${count}&size=${size}&seed=${seed}`],
    fingerprint: fingerprintDetections({ images, classNames }),
  };
}

/** The COCO JSON of a dataset: 1-based image, annotation and category ids, `images/` names. */
export function cocoJson(dataset: DetectionDataset, description: string): unknown {
  let annotation = 0;
  return {
    info: { description, version: '1.0', year: new Date().getUTCFullYear() },
    licenses: [],
    images: dataset.images.map((image, i) => ({
      id: i + 1,
      file_name: image.name,
      width: image.width,
      height: image.height,
    })),
    annotations: dataset.images.flatMap((image, i) =>
      image.objects.map((object) => ({
        id: ++annotation,
        image_id: i + 1,
        category_id: object.category + 1,
        bbox: object.box,
        area: object.box[2] * object.box[3],
        iscrowd: 0,
      })),
    ),
    categories: dataset.classNames.map((name, k) => ({ id: k + 1, name, supercategory: 'shape' })),
  };
}

/** Writes `images/<name>` and `annotations.json` (COCO); returns the JSON's path. */
export async function writeCocoDetection(dir: string, dataset: DetectionDataset): Promise<string> {
  await mkdir(join(dir, 'images'), { recursive: true });
  await mapWithConcurrency(dataset.images, 8, (image) =>
    writeFile(join(dir, 'images', image.name), image.bytes),
  );
  const path = join(dir, COCO_FILE);
  const json = cocoJson(dataset, `mscr generated detection set (${dataset.sources.join(', ')})`);
  await writeFile(path, JSON.stringify(json) + '\n');
  return path;
}
