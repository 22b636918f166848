/**
 * `mscr feedback --url <service> --model <m> --prediction-id <id> --label <l> | --actual <x> |
 * --boxes <file.json>`: tell the service what the right answer of a prediction was (the SR
 * connector's labelled feedback, which observers turn into accuracy and retraining turns into
 * data). Detectors get every true box of the image; `--image` sends the image itself when the
 * service no longer remembers the prediction.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { MscrError, errorMessage } from '../connectors/errors.ts';
import type { FeedbackRequest, LabelledBox } from '../connectors/sc/index.ts';
import { addClientOptions, clientFor, type ClientFlags } from './client-options.ts';
import { registerFeedbackReview } from './feedback-review.ts';
import { formatTable, printJson } from './output.ts';

interface FeedbackFlags extends ClientFlags {
  model: string;
  predictionId?: string;
  label?: string;
  actual?: number;
  boxes?: string;
  image?: string;
  token?: string;
}

function finiteNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new InvalidArgumentError(`expected a number, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function feedbackRequestOf(
  flags: Pick<FeedbackFlags, 'label' | 'actual'> & {
    predictionId?: string;
    boxes?: LabelledBox[];
    imageBytes?: Uint8Array;
  },
): FeedbackRequest {
  const given = [flags.label, flags.actual, flags.boxes].filter((v) => v !== undefined);
  if (given.length !== 1) {
    throw new MscrError(
      'config',
      'give the true answer with exactly one of --label <class> (classifiers), --actual <value> (forecasters) or --boxes <file.json> (object detectors)',
    );
  }
  return {
    ...(flags.predictionId !== undefined ? { predictionId: flags.predictionId } : {}),
    ...(flags.imageBytes !== undefined
      ? { input: { image_b64: Buffer.from(flags.imageBytes).toString('base64') } }
      : {}),
    ...(flags.label !== undefined ? { label: flags.label } : {}),
    ...(flags.actual !== undefined ? { actual: flags.actual } : {}),
    ...(flags.boxes !== undefined ? { boxes: flags.boxes } : {}),
  };
}

async function readFileFor(flag: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new MscrError('not_found', `${flag} ${file}: cannot read it: ${errorMessage(error)}`);
  }
}

/**
 * `--boxes boxes.json`: a list of `{"box": [x, y, width, height], "label": "..."}` in the
 * image's pixels (`[]`: no objects), or an object with such a `boxes` list (a saved /detect
 * answer's `detections` work too: their extra fields are dropped). The service checks them.
 */
export function parseBoxesFile(text: string, file: string): LabelledBox[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MscrError('bad_data', `--boxes ${file} is not JSON: ${errorMessage(error)}`);
  }
  const list =
    typeof json === 'object' && json !== null && !Array.isArray(json)
      ? ((json as Record<string, unknown>).boxes ?? (json as Record<string, unknown>).detections)
      : json;
  if (!Array.isArray(list)) {
    throw new MscrError(
      'bad_data',
      `--boxes ${file} must hold a list of {"box": [x, y, width, height], "label": "..."}`,
    );
  }
  return list.map((item: unknown) => {
    const { box, label } = (item ?? {}) as { box?: unknown; label?: unknown };
    return { box, label } as LabelledBox;
  });
}
export function registerFeedbackCommand(program: Command): void {
  const command = program
    .command('feedback')
    .description(
      'send the true label (or value) of a prediction, so accuracy is known and retraining can learn from it',
    )
    .requiredOption('--model <name>', 'the model that made the prediction')
    // Not a commander-required option: commander requires a parent's mandatory options of
    // its subcommands too, and `mscr feedback --model m review` has no prediction id.
    .option('--prediction-id <id>', 'the id a classify or forecast answer gave (see mscr predict)')
    .option('--label <class>', 'classifiers: the true class name')
    .option('--actual <value>', 'forecasters: the true value, in the data units', finiteNumber)
    .option(
      '--boxes <file.json>',
      'object detectors: every true box of the image, [{"box": [x, y, w, h], "label": "car"}, ...] in its pixels',
    )
    .option(
      '--image <file>',
      'the image itself, when the service no longer remembers the prediction (or instead of --prediction-id)',
    )
    .option(
      '--token <token>',
      "the service's feedback token, when it has one [env MSCR_FEEDBACK_TOKEN] (prefer the env var: flags show in ps)",
      process.env.MSCR_FEEDBACK_TOKEN || undefined,
    );
  addClientOptions(command)
    .addHelpText(
      'after',
      '\nExamples:\n  mscr feedback --url http://localhost:8080 --model cifar10-cnn --prediction-id 7f3c... --label cat\n  mscr feedback --model stock-lstm --prediction-id 91ab... --actual 831.66\n  mscr feedback --model objects --prediction-id 3c9e... --boxes boxes.json',
    )
    .action(async (flags: FeedbackFlags) => {
      if (flags.predictionId === undefined && flags.image === undefined)
        throw new MscrError(
          'config',
          "required option '--prediction-id <id>' not specified (the id a classify, detect or forecast answer gave; or send --image)",
        );
      const boxes =
        flags.boxes !== undefined
          ? parseBoxesFile(
              (await readFileFor('--boxes', flags.boxes)).toString('utf8'),
              flags.boxes,
            )
          : undefined;
      const imageBytes =
        flags.image !== undefined ? await readFileFor('--image', flags.image) : undefined;
      const request = feedbackRequestOf({
        ...(flags.predictionId !== undefined ? { predictionId: flags.predictionId } : {}),
        ...(flags.label !== undefined ? { label: flags.label } : {}),
        ...(flags.actual !== undefined ? { actual: flags.actual } : {}),
        ...(boxes !== undefined ? { boxes } : {}),
        ...(imageBytes !== undefined ? { imageBytes } : {}),
      });
      const answer = await clientFor(flags).feedback(
        flags.model,
        request,
        flags.token !== undefined ? { token: flags.token } : {},
      );
      if (flags.json) return printJson(answer);
      console.log(
        formatTable(
          ['FEEDBACK ID', 'MODEL', 'VERSION', 'TRUTH', 'PREDICTION WAS', 'STORED'],
          [
            [
              answer.id,
              answer.model,
              answer.version !== undefined ? String(answer.version) : '-',
              answer.label ??
                (answer.actual !== undefined
                  ? String(answer.actual)
                  : boxes !== undefined
                    ? `${boxes.length} box${boxes.length === 1 ? '' : 'es'}`
                    : '-'),
              answer.correct === undefined ? '-' : answer.correct ? 'right' : 'wrong',
              answer.quarantined ? 'quarantined (awaits review)' : 'for retraining',
            ],
          ],
        ),
      );
    });
  registerFeedbackReview(command);
}
