/**
 * `mscr feedback review --model <m> --store <uri> [--accept <id>... | --accept-all]
 * [--reject <id>... | --reject-all]`: an operator's look at the feedback the service kept in
 * quarantine (below its trust threshold, `MSCR_FEEDBACK_TRUST`), and the decision: accepted
 * feedback moves beside the rest (marked `reviewed`) and retraining uses it; rejected
 * feedback is deleted. Without a decision it lists what waits.
 */
import type { Command } from 'commander';
import { MscrError } from '../connectors/errors.ts';
import { createFeedbackStore } from '../connectors/sr/feedback-store.ts';
import type { FeedbackRecord } from '../connectors/sr/index.ts';
import { openObjectStore } from '../connectors/store/index.ts';
import { collectList, DEFAULT_STORE } from './options.ts';
import { formatTable, printJson } from './output.ts';

interface ReviewFlags {
  model?: string;
  store: string;
  accept: string[];
  reject: string[];
  acceptAll?: boolean;
  rejectAll?: boolean;
  reviewer?: string;
  json?: boolean;
}

function truthOf(record: FeedbackRecord): string {
  if (record.label !== undefined) return record.label;
  return record.actual !== undefined ? String(record.actual) : '-';
}

/** `review` under `mscr feedback`; `--model` is the parent's option. */
export function registerFeedbackReview(feedback: Command): void {
  feedback
    .command('review')
    .description(
      'list the feedback waiting in quarantine (below the service trust threshold) and accept or reject it',
    )
    .option(
      '--store <uri>',
      'model store URI (file://, s3://, gs://) [env MSCR_STORE]',
      process.env.MSCR_STORE || DEFAULT_STORE,
    )
    .option('--accept <id>', 'accept this feedback (repeatable)', collectList, [])
    .option('--reject <id>', 'reject (delete) this feedback (repeatable)', collectList, [])
    .option('--accept-all', 'accept everything in quarantine')
    .option('--reject-all', 'reject everything in quarantine')
    .option('--reviewer <name>', 'who reviewed, for the record')
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      '\nExamples:\n  mscr feedback --model cifar10-cnn review --store s3://models/prod\n  mscr feedback --model cifar10-cnn review --accept 3f2a... --reject 9b1c... --reviewer alice',
    )
    .action(async (_options: unknown, command: Command) => {
      const flags = command.optsWithGlobals<ReviewFlags>();
      if (flags.model === undefined)
        throw new MscrError('config', 'name the model: mscr feedback --model <name> review');
      if (flags.acceptAll && flags.rejectAll)
        throw new MscrError('config', 'choose one of --accept-all and --reject-all');
      const store = createFeedbackStore(openObjectStore(flags.store));
      const waiting = await store.list(flags.model, { quarantined: true });
      const byId = new Map(waiting.map((r) => [r.id, r]));
      const unknown = [...flags.accept, ...flags.reject].filter((id) => !byId.has(id));
      if (unknown.length > 0) {
        throw new MscrError(
          'not_found',
          `no quarantined feedback ${unknown.map((id) => JSON.stringify(id)).join(', ')} for model ${flags.model} in ${flags.store}`,
        );
      }
      const accept = flags.acceptAll ? waiting.map((r) => r.id) : flags.accept;
      const reject = flags.rejectAll ? waiting.map((r) => r.id) : flags.reject;
      const both = accept.filter((id) => reject.includes(id));
      if (both.length > 0)
        throw new MscrError('config', `feedback ${both[0]} is both accepted and rejected`);
      for (const id of accept) await store.accept(byId.get(id) as FeedbackRecord, flags.reviewer);
      for (const id of reject) await store.reject(byId.get(id) as FeedbackRecord);
      const decided = new Set([...accept, ...reject]);
      const left = waiting.filter((r) => !decided.has(r.id));
      if (flags.json) return printJson({ accepted: accept, rejected: reject, waiting: left });
      if (decided.size > 0)
        console.log(
          `accepted ${accept.length}, rejected ${reject.length} feedback of ${flags.model}`,
        );
      if (left.length === 0) {
        console.log(`no feedback of ${flags.model} waits in quarantine`);
        return;
      }
      console.log(
        formatTable(
          ['FEEDBACK ID', 'RECEIVED', 'TRUST', 'TRUTH', 'PREDICTION', 'INPUT'],
          left.map((r) => [
            r.id,
            r.receivedAt,
            r.trust ?? '-',
            truthOf(r),
            r.predictionId ?? '-',
            r.inputFile ?? '-',
          ]),
        ),
      );
    });
}
