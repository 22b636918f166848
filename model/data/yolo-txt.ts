/**
 * A detection set in the YOLO txt layout (Darknet, Ultralytics): `images/` with the image
 * files (subfolders allowed), `labels/` with one `.txt` per image at the same relative path,
 * one object per line `class cx cy w h`, all four normalised to 0..1 of the image, and the
 * class names in `classes.txt` (one per line) or in `data.yaml`'s `names` (a list, a `- name`
 * block or a `0: name` map). An image without a label file has no objects (YOLO's
 * background images); a label file without an image is an error.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { MscrError } from '../../connectors/errors.ts';
import { readImageSize } from '../../connectors/ms/decode-image.ts';
import { BOX_TOLERANCE, clipBox, MAX_ANNOTATION_BYTES, Problems } from './coco.ts';
import { mapWithConcurrency } from './concurrency.ts';
import {
  fingerprintDetections,
  type DetectionDataset,
  type DetectionImage,
  type DetectionObject,
} from './detection-types.ts';

const IMAGE_EXTENSIONS = new Set([
  '.png',
  '.jpg',
  '.jpeg',
  '.webp',
  '.bmp',
  '.gif',
  '.tif',
  '.tiff',
]);
/** More files than this under images/ or labels/ is refused. */
const MAX_FILES = 1_000_000;

async function readSmallText(path: string): Promise<string> {
  const info = await stat(path);
  if (info.size > MAX_ANNOTATION_BYTES) {
    throw new MscrError('bad_data', `${path} is ${info.size} bytes; too large for a label file`);
  }
  return readFile(path, 'utf8');
}

/** Files under `dir`, relative to it, sorted (no symlinked folders followed). */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  if (entries.length > MAX_FILES) {
    throw new MscrError('bad_data', `${dir} holds more than ${MAX_FILES} entries`);
  }
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

/** A YAML scalar without its quotes. */
function unquote(value: string): string {
  const text = value.trim();
  const quote = text[0];
  return (quote === '"' || quote === "'") && text.length >= 2 && text.endsWith(quote)
    ? text.slice(1, -1)
    : text;
}

/** A line without a trailing ` # comment`, trimmed. */
function withoutComment(line: string): string {
  const at = line.indexOf(' #');
  return (at < 0 ? line : line.slice(0, at)).trim();
}

/** `names` from a data.yaml: `names: [a, b]`, `names:\n  - a`, or `names:\n  0: a`. */
export function parseYamlNames(text: string, source: string): string[] {
  const lines = text.split(/\r?\n/);
  const at = lines.findIndex((line) => /^names\s*:/.test(line));
  if (at < 0) throw new MscrError('bad_data', `${source} has no "names"`);
  const inline = withoutComment(
    (lines[at] as string).slice((lines[at] as string).indexOf(':') + 1),
  );
  if (inline.startsWith('[')) {
    if (!inline.endsWith(']'))
      throw new MscrError('bad_data', `${source}: names [...] must be on one line`);
    return inline
      .slice(1, -1)
      .split(',')
      .map(unquote)
      .filter((name) => name !== '');
  }
  if (inline !== '') throw new MscrError('bad_data', `${source}: names must be a list or a map`);
  const names: string[] = [];
  const mapped = new Map<number, string>();
  for (const line of lines.slice(at + 1)) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    if (!/^\s/.test(line)) break; // the next top-level key
    const entry = withoutComment(line);
    const colon = entry.indexOf(':');
    const key = colon < 0 ? '' : entry.slice(0, colon).trim();
    if (entry.startsWith('-')) names.push(unquote(entry.slice(1)));
    else if (/^\d+$/.test(key)) mapped.set(Number(key), unquote(entry.slice(colon + 1)));
    else
      throw new MscrError(
        'bad_data',
        `${source}: cannot read names line ${JSON.stringify(line.trim())}`,
      );
  }
  if (mapped.size > 0) {
    if (names.length > 0)
      throw new MscrError('bad_data', `${source}: names mixes a list and a map`);
    for (let k = 0; k < mapped.size; k++) {
      const name = mapped.get(k);
      if (name === undefined) throw new MscrError('bad_data', `${source}: names has no class ${k}`);
      names.push(name);
    }
  }
  return names;
}

async function classNamesOf(dir: string): Promise<string[]> {
  const classesTxt = join(dir, 'classes.txt');
  const dataYaml = [join(dir, 'data.yaml'), join(dir, 'data.yml')];
  let names: string[] | undefined;
  let source = '';
  if ((await stat(classesTxt).catch(() => undefined))?.isFile()) {
    source = classesTxt;
    names = (await readSmallText(classesTxt))
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '');
  } else {
    for (const path of dataYaml) {
      if (!(await stat(path).catch(() => undefined))?.isFile()) continue;
      source = path;
      names = parseYamlNames(await readSmallText(path), path);
      break;
    }
  }
  if (names === undefined) {
    throw new MscrError(
      'bad_data',
      `${dir}: a YOLO dataset needs classes.txt or data.yaml with "names"`,
    );
  }
  if (names.length === 0) throw new MscrError('bad_data', `${source} names no classes`);
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name))
      throw new MscrError('bad_data', `${source}: class ${JSON.stringify(name)} appears twice`);
    seen.add(name);
  }
  return names;
}

/** One label file's objects, in pixels of a `width` x `height` image. */
export function parseYoloLabels(
  text: string,
  options: { source: string; classes: number; width: number; height: number; problems: Problems },
): DetectionObject[] {
  const { source, classes, width, height, problems } = options;
  const objects: DetectionObject[] = [];
  const slackX = BOX_TOLERANCE / width;
  const slackY = BOX_TOLERANCE / height;
  text.split(/\r?\n/).forEach((line, i) => {
    const fields = line.trim().split(/\s+/);
    if (line.trim() === '') return;
    const where = `${source}:${i + 1}`;
    // Segmentation lines (class + polygon) have more fields; mscr reads boxes only.
    if (fields.length !== 5) {
      problems.add(
        `${where}: expected "class cx cy w h", got ${JSON.stringify(line.trim().slice(0, 80))}`,
      );
      return;
    }
    const [klass, ...rest] = fields as [string, ...string[]];
    if (!/^\d+$/.test(klass) || Number(klass) >= classes) {
      problems.add(
        `${where}: class ${JSON.stringify(klass)} is not one of the ${classes} classes (0..${classes - 1})`,
      );
      return;
    }
    const values = rest.map(Number);
    if (rest.some((v) => !/^[-+.\deE]+$/.test(v) || !Number.isFinite(Number(v)))) {
      problems.add(`${where}: cx cy w h must be numbers, got ${rest.join(' ')}`);
      return;
    }
    const [cx, cy, w, h] = values as [number, number, number, number];
    if (w <= 0 || h <= 0) {
      problems.add(`${where}: the box has no area`);
      return;
    }
    if (
      cx - w / 2 < -slackX ||
      cy - h / 2 < -slackY ||
      cx + w / 2 > 1 + slackX ||
      cy + h / 2 > 1 + slackY
    ) {
      problems.add(
        `${where}: the box ${rest.join(' ')} lies outside the image (values are fractions 0..1)`,
      );
      return;
    }
    const box = [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height];
    objects.push({ box: clipBox(box, width, height), category: Number(klass) });
  });
  return objects;
}

/** Loads a YOLO-layout folder (images/, labels/, classes.txt or data.yaml). */
export async function loadYoloFolder(dir: string): Promise<DetectionDataset> {
  const classNames = await classNamesOf(dir);
  const imagesDir = join(dir, 'images');
  const labelsDir = join(dir, 'labels');
  const imageFiles = (await listFiles(imagesDir)).filter((f) =>
    IMAGE_EXTENSIONS.has(extname(f).toLowerCase()),
  );
  const labelFiles = (await stat(labelsDir).catch(() => undefined))?.isDirectory()
    ? (await listFiles(labelsDir)).filter((f) => extname(f).toLowerCase() === '.txt')
    : [];
  const stem = (file: string) => file.slice(0, file.length - extname(file).length);
  const problems = new Problems(dir);
  const imageByStem = new Map<string, string>();
  for (const file of imageFiles) {
    if (imageByStem.has(stem(file)))
      problems.add(`images ${imageByStem.get(stem(file))} and ${file} share one label file`);
    imageByStem.set(stem(file), file);
  }
  for (const label of labelFiles) {
    if (!imageByStem.has(stem(label)))
      problems.add(`labels/${label} has no image in images/ (missing image)`);
  }
  if (imageFiles.length === 0) problems.add('images/ holds no images');
  problems.throwIfAny();
  const labelSet = new Set(labelFiles.map(stem));
  const loaded = await mapWithConcurrency(
    imageFiles,
    8,
    async (file): Promise<DetectionImage | undefined> => {
      const bytes = new Uint8Array(await readFile(join(imagesDir, file)));
      const size = await readImageSize(bytes, { source: `images/${file}` }).catch(
        (error: unknown) => {
          problems.add((error as Error).message);
          return undefined;
        },
      );
      if (!size) return undefined;
      const labelFile = `${stem(file)}.txt`;
      const objects = labelSet.has(stem(file))
        ? parseYoloLabels(await readSmallText(join(labelsDir, labelFile)), {
            source: `labels/${labelFile}`,
            classes: classNames.length,
            width: size.width,
            height: size.height,
            problems,
          })
        : [];
      return { name: file, bytes, width: size.width, height: size.height, objects };
    },
  );
  problems.throwIfAny();
  const images = loaded.filter((image): image is DetectionImage => image !== undefined);
  return {
    kind: 'detection',
    images,
    classNames,
    sources: [dir],
    fingerprint: fingerprintDetections({ images, classNames }),
  };
}
