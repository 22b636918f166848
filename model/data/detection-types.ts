/**
 * The in-memory form every detection loader produces (COCO JSON, YOLO txt, generated sets,
 * feedback): images as their file bytes with their size, and labelled boxes in the image's
 * pixels, `[x, y, width, height]` from the top-left corner as in COCO JSON.
 */
import { createHash } from 'node:crypto';

export type PixelBox = [x: number, y: number, width: number, height: number];

export interface DetectionObject {
  box: PixelBox;
  /** Index into the dataset's `classNames`. */
  category: number;
}

export interface DetectionImage {
  /** A name for messages and for a stable order (the file path relative to the data). */
  name: string;
  /** The encoded image (PNG, JPEG, ...). */
  bytes: Uint8Array;
  width: number;
  height: number;
  /** Every object in the image; empty = a background image. */
  objects: DetectionObject[];
}

export interface DetectionDataset {
  kind: 'detection';
  images: DetectionImage[];
  classNames: string[];
  sources: string[];
  /** sha256 hex over the class names, each image's bytes and its boxes. */
  fingerprint: string;
}

/** sha256 over the class names and every image (bytes, size, boxes) in order. */
export function fingerprintDetections(data: {
  images: readonly DetectionImage[];
  classNames: readonly string[];
}): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ kind: 'detection', classNames: data.classNames }));
  for (const image of data.images) {
    hash.update(image.bytes);
    hash.update(JSON.stringify([image.width, image.height, image.objects]));
  }
  return hash.digest('hex');
}

/** Total number of boxes. */
export function countObjects(images: readonly DetectionImage[]): number {
  return images.reduce((n, image) => n + image.objects.length, 0);
}
