/**
 * A detection set in COCO JSON (the object-detection "instances" format): `images` (id,
 * file_name, width, height), `annotations` (id, image_id, category_id, bbox `[x, y, width,
 * height]` in pixels, iscrowd) and `categories` (id, name). Image files are looked up beside
 * the JSON (`<dir>/images/<file_name>`, then `<dir>/<file_name>`). Everything is checked, and
 * the first problems are reported with where they are: a dataset that trains is one whose
 * boxes all mean what they say.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { MscrError } from '../../connectors/errors.ts';
import { readImageSize } from '../../connectors/ms/decode-image.ts';
import { mapWithConcurrency } from './concurrency.ts';
import {
  fingerprintDetections,
  type DetectionDataset,
  type DetectionImage,
  type PixelBox,
} from './detection-types.ts';

/** Larger annotation files are refused before parsing. */
export const MAX_ANNOTATION_BYTES = 256 * 1024 * 1024;
/** Boxes may stick out of the image by this many pixels (rounding in other tools). */
export const BOX_TOLERANCE = 1;
const MAX_PROBLEMS = 5;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isId = (value: unknown): value is number | string =>
  (typeof value === 'number' && Number.isSafeInteger(value)) ||
  (typeof value === 'string' && value !== '');

/** Collects problems and throws them together (the first few) as one `bad_data` error. */
export class Problems {
  readonly #list: string[] = [];
  constructor(readonly source: string) {}
  add(problem: string): void {
    this.#list.push(problem);
  }
  get count(): number {
    return this.#list.length;
  }
  throwIfAny(): void {
    if (this.#list.length === 0) return;
    const more = this.#list.length - MAX_PROBLEMS;
    throw new MscrError(
      'bad_data',
      `${this.source}: ${this.#list.slice(0, MAX_PROBLEMS).join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
    );
  }
}

/** A relative file name inside the data folder, or undefined if it would leave it. */
export function safeRelative(name: string): string | undefined {
  if (name === '' || name.includes('\0') || isAbsolute(name) || /^[a-zA-Z]:/.test(name))
    return undefined;
  const normal = normalize(name);
  if (normal === '..' || normal.startsWith(`..${sep}`) || normal.startsWith('../'))
    return undefined;
  return normal;
}

/** Checks a box against its image: finite, positive size, inside (within the tolerance). */
export function boxProblem(
  box: readonly number[],
  width: number,
  height: number,
): string | undefined {
  if (box.length !== 4 || box.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    return 'a box must be four finite numbers [x, y, width, height]';
  }
  const [x, y, w, h] = box as [number, number, number, number];
  if (w <= 0 || h <= 0) return `box [${box.join(', ')}] has no area`;
  if (
    x < -BOX_TOLERANCE ||
    y < -BOX_TOLERANCE ||
    x + w > width + BOX_TOLERANCE ||
    y + h > height + BOX_TOLERANCE
  ) {
    return `box [${box.join(', ')}] lies outside the ${width}x${height} image`;
  }
  return undefined;
}

/** Clips a checked box to the image (it may stick out by the tolerance). */
export function clipBox(box: readonly number[], width: number, height: number): PixelBox {
  const [x, y, w, h] = box as [number, number, number, number];
  const x1 = Math.max(0, x);
  const y1 = Math.max(0, y);
  return [x1, y1, Math.min(width, x + w) - x1, Math.min(height, y + h) - y1];
}

async function readJson(path: string): Promise<unknown> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new MscrError('not_found', `${path} does not exist`);
  if (info.size > MAX_ANNOTATION_BYTES) {
    throw new MscrError(
      'bad_data',
      `${path} is ${info.size} bytes; annotation files above ${MAX_ANNOTATION_BYTES} bytes are refused`,
    );
  }
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (error) {
    throw new MscrError('bad_data', `${path} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Finds an image file beside the JSON: `<dir>/images/<name>`, else `<dir>/<name>`. */
async function findImage(root: string, relative: string): Promise<string | undefined> {
  for (const candidate of [join(root, 'images', relative), join(root, relative)]) {
    if ((await stat(candidate).catch(() => undefined))?.isFile()) return candidate;
  }
  return undefined;
}

/** Loads a COCO JSON file and its images; throws `bad_data` listing what is wrong. */
export async function loadCoco(jsonPath: string): Promise<DetectionDataset> {
  const json = await readJson(jsonPath);
  const problems = new Problems(jsonPath);
  if (!isObject(json)) throw new MscrError('bad_data', `${jsonPath}: expected a JSON object`);
  for (const key of ['images', 'annotations', 'categories']) {
    if (!Array.isArray(json[key])) problems.add(`"${key}" must be an array`);
  }
  problems.throwIfAny();
  const categories = json.categories as unknown[];
  const images = json.images as unknown[];
  const annotations = json.annotations as unknown[];

  const categoryIndex = new Map<number | string, number>();
  const classNames: string[] = [];
  categories.forEach((entry, i) => {
    if (
      !isObject(entry) ||
      !isId(entry.id) ||
      typeof entry.name !== 'string' ||
      !entry.name.trim()
    ) {
      problems.add(`categories[${i}] needs an integer or string "id" and a non-empty "name"`);
      return;
    }
    if (categoryIndex.has(entry.id)) problems.add(`category id ${entry.id} appears twice`);
    else if (classNames.includes(entry.name))
      problems.add(`category name ${JSON.stringify(entry.name)} appears twice`);
    else {
      categoryIndex.set(entry.id, classNames.length);
      classNames.push(entry.name);
    }
  });
  if (categories.length === 0) problems.add('there are no categories');

  const root = dirname(jsonPath);
  const byId = new Map<number | string, DetectionImage & { file: string }>();
  images.forEach((entry, i) => {
    if (!isObject(entry) || !isId(entry.id) || typeof entry.file_name !== 'string') {
      problems.add(`images[${i}] needs an integer or string "id" and a "file_name"`);
      return;
    }
    const file = safeRelative(entry.file_name);
    if (file === undefined) {
      problems.add(
        `images[${i}]: file_name ${JSON.stringify(entry.file_name)} leaves the data folder`,
      );
      return;
    }
    const { width, height } = entry;
    if (
      !Number.isSafeInteger(width) ||
      !Number.isSafeInteger(height) ||
      (width as number) < 1 ||
      (height as number) < 1
    ) {
      problems.add(`images[${i}] (${entry.file_name}) needs positive integer "width" and "height"`);
      return;
    }
    if (byId.has(entry.id)) {
      problems.add(`image id ${entry.id} appears twice`);
      return;
    }
    byId.set(entry.id, {
      name: file,
      file,
      bytes: new Uint8Array(),
      width: width as number,
      height: height as number,
      objects: [],
    });
  });
  if (images.length === 0) problems.add('there are no images');
  problems.throwIfAny();

  let crowd = 0;
  annotations.forEach((entry, i) => {
    if (!isObject(entry)) {
      problems.add(`annotations[${i}] must be an object`);
      return;
    }
    const image = isId(entry.image_id) ? byId.get(entry.image_id) : undefined;
    if (!image) {
      problems.add(
        `annotations[${i}]: image_id ${JSON.stringify(entry.image_id)} is not in "images"`,
      );
      return;
    }
    const category = isId(entry.category_id) ? categoryIndex.get(entry.category_id) : undefined;
    if (category === undefined) {
      problems.add(
        `annotations[${i}]: category_id ${JSON.stringify(entry.category_id)} is not in "categories"`,
      );
      return;
    }
    if (!Array.isArray(entry.bbox)) {
      problems.add(`annotations[${i}] needs a "bbox" [x, y, width, height]`);
      return;
    }
    const wrong = boxProblem(entry.bbox as number[], image.width, image.height);
    if (wrong) {
      problems.add(`annotations[${i}] (image ${image.name}): ${wrong}`);
      return;
    }
    // Crowd regions are not objects to detect (COCOeval ignores them); leave them out.
    if (entry.iscrowd === 1) {
      crowd += 1;
      return;
    }
    image.objects.push({
      box: clipBox(entry.bbox as number[], image.width, image.height),
      category,
    });
  });
  problems.throwIfAny();

  const entries = [...byId.values()];
  const loaded = await mapWithConcurrency(
    entries,
    8,
    async (image): Promise<DetectionImage | undefined> => {
      const path = await findImage(root, image.file);
      if (path === undefined) {
        problems.add(
          `image ${image.file} is missing (looked in ${join(root, 'images')} and ${root})`,
        );
        return undefined;
      }
      const bytes = new Uint8Array(await readFile(path));
      const size = await readImageSize(bytes, { source: image.file }).catch((error: unknown) => {
        problems.add((error as Error).message);
        return undefined;
      });
      if (size && (size.width !== image.width || size.height !== image.height)) {
        problems.add(
          `image ${image.file} is ${size.width}x${size.height}, but the JSON says ${image.width}x${image.height}`,
        );
      }
      const { name, width, height, objects } = image;
      return { name, bytes, width, height, objects };
    },
  );
  problems.throwIfAny();
  const ready = loaded.filter((image): image is DetectionImage => image !== undefined);
  return {
    kind: 'detection',
    images: ready,
    classNames,
    sources: [crowd > 0 ? `${jsonPath} (${crowd} crowd regions left out)` : jsonPath],
    fingerprint: fingerprintDetections({ images: ready, classNames }),
  };
}
