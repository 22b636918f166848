/**
 * `mscr predict --url <service> --model <m> <file...>`: images are classified (or, for an
 * object detector, their boxes found), `.csv` files forecast (the newest window, or every
 * window with --all-windows), through the SDK.
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { MscrError, errorMessage } from '../connectors/errors.ts';
import type { ClassifyResponse, DetectResponse, ForecastResponse } from '../connectors/sc/index.ts';
import {
  isMscrClientError,
  looksLikeDetector,
  type CsvOrder,
  type MscrClient,
  type SeriesForecast,
} from '../client/index.ts';
import { addClientOptions, clientFor, type ClientFlags } from './client-options.ts';
import { oneOf, positiveInt, versionRef } from './options.ts';
import { formatTable, percent, printJson } from './output.ts';

function fraction(value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < 0 || number > 1) {
    throw new InvalidArgumentError(`expected a number from 0 to 1, got ${JSON.stringify(value)}`);
  }
  return number;
}

interface PredictFlags extends ClientFlags {
  model: string;
  version?: string;
  top?: number;
  order: CsvOrder;
  allWindows?: boolean;
  threshold?: number;
  /** Set by the command: the model is an object detector (from its metadata). */
  detector?: boolean;
}

const IMAGE_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.avif': 'image/avif',
};

export type PredictResult =
  | { file: string; kind: 'classify'; response: ClassifyResponse }
  | { file: string; kind: 'detect'; response: DetectResponse }
  | { file: string; kind: 'forecast'; response: ForecastResponse }
  | { file: string; kind: 'series'; response: SeriesForecast };

async function readInput(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') throw new MscrError('not_found', `${file}: no such file`);
    if (code === 'EISDIR') throw new MscrError('bad_request', `${file} is a folder, not a file`);
    throw new MscrError('bad_data', `${file}: cannot read it: ${errorMessage(error)}`);
  }
}

/** A 400 (or a 415: a format the service does not decode) about the posted file is the file's problem: exit 3 (fix the data), naming the file. */
function blameFile(file: string, error: unknown): unknown {
  if (
    isMscrClientError(error) &&
    error.kind === 'http' &&
    (error.httpStatus === 400 || error.httpStatus === 415)
  ) {
    return new MscrError(
      'bad_data',
      `${file}: the service cannot use it: ${error.serverMessage ?? error.message}`,
      { cause: error },
    );
  }
  return error;
}

export async function predictFile(
  client: MscrClient,
  file: string,
  flags: Pick<
    PredictFlags,
    'model' | 'version' | 'top' | 'order' | 'allWindows' | 'threshold' | 'detector'
  >,
): Promise<PredictResult> {
  const bytes = await readInput(file);
  const version = flags.version !== undefined ? versionRef(flags.version) : undefined;
  const versionOption = version !== undefined ? { version } : {};
  const extension = extname(file).toLowerCase();
  try {
    if (extension === '.csv') {
      const csv = bytes.toString('utf8');
      if (flags.allWindows) {
        const response = await client.forecastSeries(flags.model, csv, {
          ...versionOption,
          order: flags.order,
        });
        return { file, kind: 'series', response };
      }
      const response = await client.forecast(flags.model, csv, {
        ...versionOption,
        order: flags.order,
      });
      return { file, kind: 'forecast', response };
    }
    const contentType = IMAGE_TYPES[extension] ?? 'application/octet-stream';
    if (flags.detector) {
      const response = await client.detect(flags.model, bytes, {
        ...versionOption,
        ...(flags.threshold !== undefined ? { threshold: flags.threshold } : {}),
        contentType,
      });
      return { file, kind: 'detect', response };
    }
    const response = await client.classify(flags.model, bytes, {
      ...versionOption,
      ...(flags.top !== undefined ? { top: flags.top } : {}),
      contentType,
    });
    return { file, kind: 'classify', response };
  } catch (error) {
    throw blameFile(file, error);
  }
}

function money(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(2);
}

export function formatResults(results: PredictResult[]): string {
  const blocks: string[] = [];
  const classified = results.filter((r) => r.kind === 'classify');
  if (classified.length > 0) {
    const rows: string[][] = [];
    for (const { file, response } of classified) {
      (response.predictions[0] ?? []).forEach((p, rank) => {
        rows.push([
          rank === 0 ? basename(file) : '',
          rank === 0 ? `${response.model} v${response.version}` : '',
          String(rank + 1),
          p.label,
          percent(p.score),
          rank === 0 ? (response.predictionIds?.[0] ?? '-') : '',
        ]);
      });
    }
    blocks.push(formatTable(['FILE', 'MODEL', 'RANK', 'LABEL', 'SCORE', 'PREDICTION ID'], rows));
  }
  for (const { file, response } of results.filter((r) => r.kind === 'detect')) {
    const pixels = (v: number) => String(Math.round(v * 10) / 10);
    const table = formatTable(
      ['LABEL', 'SCORE', 'X', 'Y', 'W', 'H'],
      response.detections.map((d) => [d.label, percent(d.score), ...d.box.map(pixels)]),
    );
    const count = response.detections.length;
    blocks.push(
      `${basename(file)} (${response.image.width}x${response.image.height}): ${count} object${count === 1 ? '' : 's'} found by ${response.model} v${response.version}; prediction id ${response.id}${count > 0 ? `\n${table}` : ''}`,
    );
  }
  const forecasts = results.filter((r) => r.kind === 'forecast');
  if (forecasts.length > 0) {
    blocks.push(
      formatTable(
        ['FILE', 'MODEL', 'TARGET', 'FORECAST', 'PREDICTION ID'],
        forecasts.map(({ file, response }) => [
          basename(file),
          `${response.model} v${response.version}`,
          response.target,
          money(response.forecast[0]),
          response.predictionIds?.[0] ?? '-',
        ]),
      ),
    );
  }
  for (const { file, response } of results.filter((r) => r.kind === 'series')) {
    const table = formatTable(
      ['ROW', `ACTUAL ${response.target}`, 'PREDICTED', 'ERROR', 'PREDICTION ID'],
      response.points.map((p) => [
        String(p.index + 1),
        money(p.actual),
        money(p.predicted),
        p.actual !== undefined && p.predicted !== undefined ? money(p.predicted - p.actual) : '-',
        p.predictionId ?? '-',
      ]),
    );
    const summary =
      `${basename(file)}: ${response.points.length} forecasts of ${response.target} by ${response.model} v${response.version} (window ${response.window})` +
      (response.rmse !== undefined
        ? `; RMSE ${money(response.rmse)} (naive "tomorrow = today": ${money(response.naiveRmse)})`
        : '') +
      (response.targetGuessed
        ? `; no column is named ${response.target}, so the last column is the actual`
        : '');
    blocks.push(`${table}\n${summary}`);
  }
  return blocks.join('\n\n');
}

export function registerPredictCommand(program: Command): void {
  const command = program
    .command('predict')
    .description(
      'ask a running service for predictions: images are classified (an object detector finds boxes in them), .csv files forecast',
    )
    .argument('<file...>', 'image files (JPEG, PNG, WebP, GIF, TIFF, AVIF) or .csv price windows')
    .requiredOption('--model <name>', 'the served model to ask')
    .option('--version <ref>', 'a version number or an alias (e.g. stable); default: the latest')
    .option('--top <k>', 'image classes to show per image', positiveInt)
    .option(
      '--threshold <score>',
      "object detectors: show boxes scoring above this (0..1; default the model's, else 0.25)",
      fraction,
    )
    .option(
      '--order <order>',
      'row order of .csv files: oldest-first, or newest-first (GOOG-style files)',
      oneOf(['oldest-first', 'newest-first'] as const),
      'oldest-first',
    )
    .option(
      '--all-windows',
      '.csv: forecast every sliding window and compare with the actual values',
    );
  addClientOptions(command)
    .addHelpText(
      'after',
      `
Examples:
  mscr predict --url http://localhost:8080 --model cifar10-cnn cat.jpg ship.png
  mscr predict --model objects --threshold 0.5 street.jpg     (a detector: a table of boxes)
  mscr predict --model stock-lstm --order newest-first goog_daily.csv
  mscr predict --model stock-lstm --order newest-first --all-windows --json goog_daily.csv

Exit codes: 0 ok, 2 bad usage, 3 a file the service cannot use, 4 unknown model, version or
file, 5 the service is down or not ready.`,
    )
    .action(async (files: string[], flags: PredictFlags) => {
      const client = clientFor(flags);
      // An image model is a detector when its metadata says so (box outputs, not classes).
      if (files.some((file) => extname(file).toLowerCase() !== '.csv')) {
        const version = flags.version !== undefined ? versionRef(flags.version) : undefined;
        const metadata = await client.modelMetadata(flags.model, version ? { version } : {});
        flags.detector = looksLikeDetector(metadata);
      }
      const results: PredictResult[] = [];
      let failure: unknown;
      let badFiles = 0;
      for (const file of files) {
        try {
          results.push(await predictFile(client, file, flags));
        } catch (error) {
          // A bad file does not stop the others; a service or model problem stops them all.
          if (!(error instanceof MscrError && error.code === 'bad_data') || files.length === 1) {
            failure = error;
            break;
          }
          process.stderr.write(`mscr: ${errorMessage(error)}\n`);
          badFiles++;
        }
      }
      if (flags.json) printJson(results);
      else if (results.length > 0) console.log(formatResults(results));
      if (failure !== undefined) throw failure;
      if (badFiles > 0) {
        throw new MscrError(
          'bad_data',
          `${badFiles} of ${files.length} files could not be used (see above)`,
        );
      }
    });
}
