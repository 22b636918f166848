export { argmaxRows, classificationReport, predictionProfile } from './classification.ts';
export type { ClassificationReport, ClassMetrics } from './classification.ts';
export { meanAndStd, regressionReport } from './regression.ts';
export type { RegressionReport } from './regression.ts';
export { COCO_IOU_THRESHOLDS, detectionReport, iou } from './detection.ts';
export type { Box, Detection, DetectionReport, GroundTruth } from './detection.ts';
