/** Model layer, pipeline step 1: loading data into memory, with provenance and fingerprints. */
export type { Dataset, ImageDataset, NumericTable } from './types.ts';
export { resolveDataPath } from './resolve-path.ts';
export {
  decodeImage,
  readImageSize,
  DEFAULT_MAX_INPUT_PIXELS,
  MAX_TARGET_SIDE,
  type DecodeOptions,
  type ImageSize,
} from '../../connectors/ms/decode-image.ts';
export { loadImageFolder, type ImageFolderOptions } from './image-folder.ts';
export { parseLabelsCsv, LABELS_FILE, LABELS_HEADER, type LabelsTable } from './labels-csv.ts';
export {
  loadCifarBinary,
  CIFAR10_CLASS_NAMES,
  CIFAR_RECORD_SIZE,
  CIFAR_META_FILE,
  type CifarBinaryOptions,
} from './cifar-binary.ts';
export {
  loadNumericCsv,
  parseNumericCsv,
  type NumericCsvOptions,
  type RowOrder,
} from './numeric-csv.ts';
export {
  syntheticImages,
  syntheticPrices,
  PRICE_COLUMNS,
  MAX_SYNTHETIC_CLASSES,
  type SyntheticImageOptions,
  type SyntheticPriceOptions,
} from './synthetic.ts';
export { writeImageFolder, writeNumericCsv } from './writers.ts';
export { fingerprintImages, fingerprintTable } from './fingerprint.ts';
export { splitStratified, splitChronological, subsetImages, type Split } from './split.ts';
export { createRandom, shuffleInPlace, type Random } from './random.ts';
export {
  countObjects,
  fingerprintDetections,
  type DetectionDataset,
  type DetectionImage,
  type DetectionObject,
  type PixelBox,
} from './detection-types.ts';
export { loadCoco } from './coco.ts';
export { loadYoloFolder, parseYamlNames } from './yolo-txt.ts';
export { loadDetections, loadDetectionSource } from './detection-folder.ts';
export {
  cocoJson,
  syntheticDetections,
  writeCocoDetection,
  COCO_FILE,
  DETECTION_SHAPES,
  type SyntheticDetectionOptions,
} from './detection-synthetic.ts';
