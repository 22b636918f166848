/**
 * `mscr quickstart` (what `npm start` runs): the embedded default on one machine. With an
 * empty local store it generates small data, trains an image classifier and a forecaster
 * through the real pipeline (files written and loaded back by the real loaders), publishes
 * them, and prints what to try next. With models already in the store it only lists them.
 */
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { openStore } from '../connectors/store/index.ts';
import {
  syntheticImages,
  syntheticPrices,
  writeImageFolder,
  writeNumericCsv,
} from '../model/data/index.ts';
import type { BackendPreference } from '../runtime/backend/index.ts';
import { DEFAULT_STORE, positiveInt } from './options.ts';
import { runTrain } from './train.ts';

interface QuickstartFlags {
  store: string;
  dataDir: string;
  epochs: number;
  retrain?: boolean;
}

export function registerQuickstartCommand(program: Command): void {
  program
    .command('quickstart')
    .description(
      'train and publish two small demo models on generated data into a local store (what `npm start` runs)',
    )
    .option('--store <uri>', 'model store URI', process.env.MSCR_STORE ?? DEFAULT_STORE)
    .option('--data-dir <path>', 'where the generated data is written', 'data/generated')
    .option('--epochs <n>', 'training epochs for the image classifier', positiveInt, 4)
    .option('--retrain', 'train new versions even if the store already has the demo models')
    .action(async (flags: QuickstartFlags) => {
      const store = openStore(flags.store);
      const existing = await store.listModels();
      const backend = (process.env.MSCR_BACKEND as BackendPreference | undefined) ?? 'auto';
      const imagesDir = resolve(flags.dataDir, 'shapes');
      const pricesCsv = resolve(flags.dataDir, 'prices.csv');
      await mkdir(resolve(flags.dataDir), { recursive: true });
      if (!existsSync(join(imagesDir, 'labels.csv'))) {
        await writeImageFolder(
          imagesDir,
          syntheticImages({ count: 600, height: 32, width: 32, classes: 6, seed: 7 }),
        );
        console.log(`generated 600 labelled 32x32 images in ${imagesDir}`);
      }
      if (!existsSync(pricesCsv)) {
        await writeNumericCsv(pricesCsv, syntheticPrices({ days: 500, seed: 7 }));
        console.log(`generated 500 days of prices in ${pricesCsv}`);
      }
      const demos = [
        {
          model: 'shapes',
          arch: 'cifar10-cnn',
          kind: 'image classifier',
          data: imagesDir,
          epochs: flags.epochs,
        },
        { model: 'prices', arch: 'stock-lstm', kind: 'forecaster', data: pricesCsv, epochs: 20 },
      ];
      for (const demo of demos) {
        if (!flags.retrain && existing.includes(demo.model)) continue;
        console.log(`\ntraining the ${demo.kind} "${demo.model}" (${demo.arch} architecture)`);
        await runTrain({
          store: flags.store,
          backend,
          seed: 7,
          model: demo.model,
          arch: demo.arch,
          data: [demo.data],
          epochs: demo.epochs,
          alias: 'stable',
        });
      }
      console.log(`\nmodels in ${store.uri}: ${(await store.listModels()).join(', ')}`);
      console.log('next:');
      console.log(`  npx mscr models list --store ${flags.store}`);
      console.log(`  npx mscr evaluate --store ${flags.store} --model shapes --data ${imagesDir}`);
      console.log(
        `  npx mscr train --model cifar10-cnn --data ../shared/data/cifar10/train --store ${flags.store} --epochs 5`,
      );
    });
}
