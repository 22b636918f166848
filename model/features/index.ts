/** Model layer, pipeline step 2: preprocessing and feature engineering as strategies. */
export type { FeatureStrategy, Features } from './types.ts';
export {
  rescale,
  standardize,
  imageNormalizationFromName,
  toImageTensor,
  oneHotLabels,
  channelStatistics,
  IMAGE_NORMALIZATIONS,
  type ImageFeatureStrategy,
  type ImageNormalizationName,
} from './image-normalization.ts';
export {
  flip,
  shift,
  composeAugmentations,
  augmentationFromNames,
  AUGMENTATION_NAMES,
  type Augmentation,
  type Augmenter,
  type AugmenterOptions,
  type ShiftPadding,
} from './augmentation.ts';
export { fitMinMax, selectColumns, type MinMaxScaler } from './scaling.ts';
export {
  makeWindows,
  seriesWindows,
  DEFAULT_WINDOW,
  type SeriesFeatureStrategy,
  type SeriesWindowOptions,
} from './series.ts';
export {
  makeNextRowPairs,
  tabularNextRow,
  type TabularFeatureStrategy,
  type TabularOptions,
} from './tabular.ts';
