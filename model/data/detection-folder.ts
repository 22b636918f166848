/**
 * Where a detection set comes from: a COCO JSON file, a folder with `annotations.json` (COCO,
 * what `mscr data generate detection` writes), or a folder in the YOLO txt layout. Several
 * sources are concatenated when their classes agree.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MscrError } from '../../connectors/errors.ts';
import { loadCoco } from './coco.ts';
import { COCO_FILE } from './detection-synthetic.ts';
import { fingerprintDetections, type DetectionDataset } from './detection-types.ts';
import { resolveDataPath } from './resolve-path.ts';
import { loadYoloFolder } from './yolo-txt.ts';

const isFile = async (path: string) => (await stat(path).catch(() => undefined))?.isFile() === true;

/** One source: COCO JSON (file or folder with annotations.json) or a YOLO folder. */
export async function loadDetectionSource(source: string): Promise<DetectionDataset> {
  const path = resolveDataPath(source);
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new MscrError('not_found', `data ${source} does not exist`);
  if (info.isFile()) {
    if (path.toLowerCase().endsWith('.json')) return loadCoco(path);
    throw new MscrError('bad_data', `${source}: expected a COCO .json file or a folder`);
  }
  if (await isFile(join(path, COCO_FILE))) return loadCoco(join(path, COCO_FILE));
  const names = await readdir(path);
  if (
    names.includes('labels') ||
    names.includes('classes.txt') ||
    names.includes('data.yaml') ||
    names.includes('data.yml')
  ) {
    return loadYoloFolder(path);
  }
  const jsons = names.filter((name) => name.toLowerCase().endsWith('.json'));
  if (jsons.length === 1) return loadCoco(join(path, jsons[0] as string));
  throw new MscrError(
    'bad_data',
    `${source}: not a detection set: expected ${COCO_FILE} (COCO JSON) or the YOLO layout (images/, labels/, classes.txt or data.yaml)`,
  );
}

/** Loads and concatenates every source; their class names must agree. */
export async function loadDetections(sources: readonly string[]): Promise<DetectionDataset> {
  if (sources.length === 0) throw new MscrError('config', 'no data given: pass --data <folder>');
  const parts: DetectionDataset[] = [];
  for (const source of sources) parts.push(await loadDetectionSource(source));
  const first = parts[0] as DetectionDataset;
  if (parts.length === 1) return first;
  for (const part of parts.slice(1)) {
    if (JSON.stringify(part.classNames) !== JSON.stringify(first.classNames)) {
      throw new MscrError(
        'bad_data',
        `${part.sources.join(', ')} has classes ${part.classNames.join(',')}, but ${first.sources.join(', ')} has ${first.classNames.join(',')}`,
      );
    }
  }
  const images = parts.flatMap((part) => part.images);
  return {
    kind: 'detection',
    images,
    classNames: first.classNames,
    sources: parts.flatMap((part) => part.sources),
    fingerprint: fingerprintDetections({ images, classNames: first.classNames }),
  };
}
