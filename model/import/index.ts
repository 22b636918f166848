/**
 * Importing a model trained elsewhere: the Model layer's export step run on someone else's
 * artifact. The signature is read from the file itself, the file is checked by the runtime
 * that will serve it, and the version is published through the store like a trained one
 * (claim, files with checksums, manifest last, alias). Anything wrong is refused before the
 * store is touched.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { MscrError, errorMessage } from '../../connectors/errors.ts';
import {
  validateModelName,
  type ManifestDraft,
  type ModelManifest,
} from '../../connectors/ms/manifest.ts';
import type { ModelStore } from '../../connectors/store/index.ts';
import { describeOnnx, type OnnxImportOptions } from './onnx.ts';
import { describeTfjsFolder } from './tfjs.ts';

export { parseScale, type DescribeOptions, type ImageOptions } from './describe.ts';
export { ONNX_FILE } from './onnx.ts';

export interface ImportOptions extends OnnxImportOptions {
  store: ModelStore;
  model: string;
  /** An `.onnx` file, or a TF.js model folder (or its `model.json`). */
  path: string;
  /** Point this alias at the new version once it is published. */
  alias?: string;
}

/** Reads a labels file: one label per line, blank lines and surrounding spaces dropped. */
export async function readLabels(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MscrError('not_found', `cannot read labels file ${path}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const labels = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (labels.length === 0) throw new MscrError('bad_data', `labels file ${path} has no labels`);
  return labels;
}

export async function importModel(options: ImportOptions): Promise<ModelManifest> {
  const name = validateModelName(options.model);
  const path = resolve(options.path);
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new MscrError('not_found', `cannot read ${options.path}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const folder = info.isDirectory()
    ? path
    : basename(path) === 'model.json'
      ? resolve(path, '..')
      : undefined;
  const { draft, files } =
    folder !== undefined
      ? await describeTfjsFolder(folder, options)
      : await describeOnnx(await readFile(path), options.path, options);
  const hash = createHash('sha256');
  for (const [file, bytes] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    hash.update(file).update(bytes);
  }
  const producer = draft.framework.name === 'onnx' ? draft.framework.producer : undefined;
  const full: ManifestDraft = {
    name,
    ...draft,
    metrics: {},
    training: {
      // Not trained by mscr: what is known about where it came from.
      epochs: 0,
      batchSize: 0,
      trainSamples: 0,
      testSamples: 0,
      backend: 'imported',
      durationMs: 0,
      importedFrom: basename(path),
      ...(producer ? { producer } : {}),
    },
    data: { fingerprint: hash.digest('hex'), sources: [path] },
  };
  return options.store.publish(full, files, options.alias ? { alias: options.alias } : {});
}
