/**
 * `mscr feedback --url <service> --model <m> --prediction-id <id> --label <l> | --actual <x>`:
 * tell the service what the right answer of a prediction was (the SR connector's labelled
 * feedback, which observers turn into accuracy and retraining turns into data).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { MscrError } from '../connectors/errors.ts';
import type { FeedbackRequest } from '../connectors/sc/index.ts';
import { addClientOptions, clientFor, type ClientFlags } from './client-options.ts';
import { registerFeedbackReview } from './feedback-review.ts';
import { formatTable, printJson } from './output.ts';

interface FeedbackFlags extends ClientFlags {
  model: string;
  predictionId?: string;
  label?: string;
  actual?: number;
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
  flags: Pick<FeedbackFlags, 'label' | 'actual'> & { predictionId: string },
): FeedbackRequest {
  if ((flags.label === undefined) === (flags.actual === undefined)) {
    throw new MscrError(
      'config',
      'give the true answer with exactly one of --label <class> (classifiers) or --actual <value> (forecasters)',
    );
  }
  return {
    predictionId: flags.predictionId,
    ...(flags.label !== undefined ? { label: flags.label } : {}),
    ...(flags.actual !== undefined ? { actual: flags.actual } : {}),
  };
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
      '--token <token>',
      "the service's feedback token, when it has one [env MSCR_FEEDBACK_TOKEN] (prefer the env var: flags show in ps)",
      process.env.MSCR_FEEDBACK_TOKEN || undefined,
    );
  addClientOptions(command)
    .addHelpText(
      'after',
      '\nExamples:\n  mscr feedback --url http://localhost:8080 --model cifar10-cnn --prediction-id 7f3c... --label cat\n  mscr feedback --model stock-lstm --prediction-id 91ab... --actual 831.66',
    )
    .action(async (flags: FeedbackFlags) => {
      if (flags.predictionId === undefined)
        throw new MscrError(
          'config',
          "required option '--prediction-id <id>' not specified (the id a classify or forecast answer gave)",
        );
      const request = feedbackRequestOf({ ...flags, predictionId: flags.predictionId });
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
              answer.label ?? (answer.actual !== undefined ? String(answer.actual) : '-'),
              answer.correct === undefined ? '-' : answer.correct ? 'right' : 'wrong',
              answer.quarantined ? 'quarantined (awaits review)' : 'for retraining',
            ],
          ],
        ),
      );
    });
  registerFeedbackReview(command);
}
