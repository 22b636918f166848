/**
 * `mscr data generate <kind>`: writes the generated data sets the demo trains on, in the
 * formats the loaders read, for anyone to train on: `detection` (PNG images + COCO JSON),
 * `shapes` (an image folder with labels.csv) and `prices` (a daily price CSV).
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { MscrError } from '../connectors/errors.ts';
import {
  syntheticImages,
  syntheticPrices,
  writeImageFolder,
  writeNumericCsv,
} from '../model/data/index.ts';
import { syntheticDetections, writeCocoDetection } from '../model/data/detection-synthetic.ts';
import { countObjects } from '../model/data/detection-types.ts';
import { oneOf, positiveInt } from './options.ts';

export const DATA_KINDS = ['detection', 'shapes', 'prices'] as const;
export type DataKind = (typeof DATA_KINDS)[number];

export interface GenerateFlags {
  out: string;
  count?: number;
  seed?: number;
  size?: number;
  force?: boolean;
}

const DEFAULT_COUNT: Record<DataKind, number> = { detection: 600, shapes: 600, prices: 500 };
/** Most images or days one run writes. */
export const MAX_GENERATE_COUNT = 100_000;

/** Writes one generated set into `flags.out` and returns a line saying what it wrote. */
export async function generateData(kind: DataKind, flags: GenerateFlags): Promise<string> {
  const out = resolve(flags.out);
  const count = flags.count ?? DEFAULT_COUNT[kind];
  const seed = flags.seed ?? 1;
  if (count > MAX_GENERATE_COUNT) {
    throw new MscrError('config', `--count is at most ${MAX_GENERATE_COUNT}, got ${count}`);
  }
  const existing = await readdir(out).catch(() => [] as string[]);
  if (existing.length > 0 && !flags.force) {
    throw new MscrError('config', `${out} is not empty; choose another --out or pass --force`);
  }
  await mkdir(out, { recursive: true });
  if (kind === 'detection') {
    const size = flags.size ?? 64;
    const dataset = await syntheticDetections({ count, size, seed });
    const json = await writeCocoDetection(out, dataset);
    return `wrote ${count} ${size}x${size} images with ${countObjects(dataset.images)} objects (${dataset.classNames.join(', ')}) to ${join(out, 'images')} and their COCO annotations to ${json}`;
  }
  if (kind === 'shapes') {
    const size = flags.size ?? 32;
    const dataset = syntheticImages({ count, height: size, width: size, classes: 6, seed });
    const labels = await writeImageFolder(out, dataset);
    return `wrote ${count} labelled ${size}x${size} images (${dataset.classNames.join(', ')}) to ${out}; labels in ${labels}`;
  }
  const path = join(out, 'prices.csv');
  await writeNumericCsv(path, syntheticPrices({ days: count, seed }));
  return `wrote ${count} days of prices to ${path}`;
}

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('generated data sets to train on');
  data
    .command('generate')
    .description('write a generated data set: detection (PNG + COCO JSON), shapes or prices')
    .argument('<kind>', `one of ${DATA_KINDS.join(', ')}`, oneOf(DATA_KINDS))
    .requiredOption('--out <dir>', 'folder to write (must be empty unless --force)')
    .option('--count <n>', 'images (or days) to generate (default 600, prices 500)', positiveInt)
    .option('--seed <n>', 'seed: the same seed writes the same data (default 1)', positiveInt)
    .option(
      '--size <n>',
      'image side in pixels (default 64 for detection, 32 for shapes)',
      positiveInt,
    )
    .option('--force', 'write into a folder that is not empty')
    .addHelpText(
      'after',
      '\nExample:\n  mscr data generate detection --out data/objects --count 600\n  mscr train --model objects --task object-detection --data data/objects',
    )
    .action(async (kind: DataKind, flags: GenerateFlags) => {
      console.log(await generateData(kind, flags));
    });
}
