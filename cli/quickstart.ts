/**
 * `mscr quickstart` (what `npm start` runs): the embedded default on one machine. With an
 * empty local store it generates small data, trains an image classifier, a forecaster and
 * an object detector through the real pipeline (files written and loaded back by the real loaders) and
 * publishes them; then it serves the store and prints curl lines to try.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { isMscrError } from '../connectors/errors.ts';
import { openStore } from '../connectors/store/index.ts';
import {
  syntheticImages,
  syntheticPrices,
  writeImageFolder,
  writeNumericCsv,
} from '../model/data/index.ts';
import { COCO_FILE } from '../model/data/detection-synthetic.ts';
import { generateData } from './data.ts';
import type { BackendPreference } from '../runtime/backend/index.ts';
import { configFromFlags, curlExamples, serveUntilSignal, webRootOption } from './serve.ts';
import { createService } from '../service/server.ts';
import { DEFAULT_STORE, positiveInt } from './options.ts';
import { runTrain } from './train.ts';

interface QuickstartFlags {
  store: string;
  dataDir: string;
  epochs: number;
  detectorEpochs: number;
  retrain?: boolean;
  serve: boolean;
  port: string;
}

export function registerQuickstartCommand(program: Command): void {
  program
    .command('quickstart')
    .description(
      'train and publish three small demo models on generated data into a local store (what `npm start` runs)',
    )
    .option('--store <uri>', 'model store URI', process.env.MSCR_STORE || DEFAULT_STORE)
    .option('--data-dir <path>', 'where the generated data is written', 'data/generated')
    .option('--epochs <n>', 'training epochs for the image classifier', positiveInt, 4)
    .option('--detector-epochs <n>', 'training epochs for the object detector', positiveInt, 8)
    .option('--retrain', 'train new versions even if the store already has the demo models')
    .option('--port <n>', 'port to serve on', process.env.MSCR_PORT || process.env.PORT || '8080')
    .option('--no-serve', 'train and publish only; do not start the server')
    .action(async (flags: QuickstartFlags) => {
      const store = openStore(flags.store);
      // A store folder that does not exist yet is an empty store here: training creates it.
      const existing = await store.listModels().catch((error: unknown) => {
        if (isMscrError(error, 'unavailable')) return [] as string[];
        throw error;
      });
      const backend = (process.env.MSCR_BACKEND as BackendPreference | undefined) || 'auto';
      const imagesDir = resolve(flags.dataDir, 'shapes');
      const pricesCsv = resolve(flags.dataDir, 'prices.csv');
      const objectsDir = resolve(flags.dataDir, 'objects');
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
      if (!existsSync(join(objectsDir, COCO_FILE))) {
        // 400 images keep the detector's share of a first start to about a minute on 2 cores.
        console.log(
          await generateData('detection', { out: objectsDir, count: 400, seed: 7, force: true }),
        );
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
        {
          model: 'objects',
          arch: 'grid-detector',
          kind: 'object detector',
          data: objectsDir,
          epochs: flags.detectorEpochs,
        },
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
          onnx: true,
        });
      }
      const models = await store.listModels();
      console.log(`\nmodels in ${store.uri}: ${models.join(', ')}`);
      if (!flags.serve) {
        console.log('next: npx mscr serve --store ' + flags.store);
        return;
      }
      const config = configFromFlags({ store: flags.store, port: flags.port });
      const web = webRootOption();
      const service = await createService(config, web);
      const firstImage = (await readFile(join(imagesDir, 'labels.csv'), 'utf8'))
        .split(/\r?\n/)[1]
        ?.split(',')[0];
      await serveUntilSignal(service, (url, grpcPort) => {
        console.log(`\nserving ${store.uri} at ${url} (Ctrl-C to stop). Try:`);
        if (web.webRoot !== undefined) console.log(`  open ${url}/ in a browser`);
        for (const line of curlExamples(url, [
          {
            name: 'shapes',
            task: 'image-classification',
            sample: join(flags.dataDir, 'shapes', firstImage ?? ''),
          },
          { name: 'prices', task: 'series-forecast', sample: join(flags.dataDir, 'prices.csv') },
          {
            name: 'objects',
            task: 'object-detection',
            sample: join(flags.dataDir, 'objects', 'images', '000001.png'),
          },
        ])) {
          console.log(`  ${line}`);
        }
        if (grpcPort !== undefined)
          console.log(
            `  gRPC (Open Inference Protocol, TF Serving, health) on port ${grpcPort}, e.g. tritonclient.grpc.InferenceServerClient("localhost:${grpcPort}")`,
          );
      });
    });
}
