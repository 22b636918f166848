/**
 * The AMQP side of the retrain trigger (retrain.ts): a message on `mscr.<model>.retrain` (or
 * `mscr.retrain` with the `mscr-model` header) carrying `authorization: Bearer <admin
 * token>`. Answers on reply_to (else exchange `mscr.results`, routing key `<model>.retrain`)
 * with `{"model", "runId", "state": "started"}` (`mscr-status` 202) or the conflict (409),
 * and, when the run ends, with its outcome. A client's mistake is dead-lettered to the
 * model's dead queue with the error and never starts a run; our trouble (the run store
 * unreachable) is requeued, up to the delivery limit. The message is acked once its answer
 * is confirmed; the run itself goes on without it.
 */
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { Logger } from '../observability/log.ts';
import {
  HEADERS,
  deadLetter,
  messageId,
  modelOfMessage,
  publishConfirmed,
  replyBase,
} from './amqp-message.ts';
import type { AnsweredIds } from './answered.ts';
import { errorText, isClientError } from './infer.ts';
import type { BrokerMetrics } from './metrics.ts';
import { RESULTS_EXCHANGE } from './names.ts';
import {
  AUTHORIZATION,
  headerText,
  isConflict,
  triggerRetrain,
  type PendingOutcomes,
  type RetrainTriggerOptions,
} from './retrain.ts';

/** Where a run's outcome goes: the trigger's reply_to and correlation id. */
export interface AmqpOutcomeRoute {
  replyTo: string;
  options: Options.Publish;
}

export interface AmqpRetrainContext {
  retrain: RetrainTriggerOptions;
  answered: AnsweredIds;
  pending: PendingOutcomes<AmqpOutcomeRoute>;
  metrics: BrokerMetrics;
  log: Logger;
  /** Told when a run started (the run watcher reads the records sooner). */
  onStarted?: (runId: string) => void;
}

export async function handleRetrainMessage(
  context: AmqpRetrainContext,
  channel: ConfirmChannel,
  queue: string,
  queueModel: string | undefined,
  message: ConsumeMessage,
): Promise<void> {
  const { metrics, log } = context;
  const label = queueModel ?? 'common';
  const id = messageId(message);
  try {
    if (message.fields.redelivered && context.answered.has(id)) {
      channel.ack(message);
      return;
    }
    let model = label;
    let answer: { status: number; body: object; runId?: string } | undefined;
    let failure: unknown;
    try {
      model = modelOfMessage(queueModel, message);
      const started = await triggerRetrain(
        context.retrain,
        model,
        headerText(message.properties.headers?.[AUTHORIZATION]),
        message.content,
      );
      answer = { status: 202, body: started, runId: started.runId };
    } catch (error) {
      if (isConflict(error)) {
        const { status, message: text } = errorText(error);
        answer = { status, body: { error: text, model, state: 'conflict' } };
      } else failure = error;
    }
    if (failure !== undefined && !isClientError(failure)) {
      log.warn('retrain trigger not handled; requeued', {
        queue,
        error: errorText(failure).message,
      });
      channel.nack(message, false, true);
      return;
    }
    const replyTo = message.properties.replyTo as string | undefined;
    const publishes: Promise<void>[] = [];
    if (answer !== undefined) {
      const options: Options.Publish = {
        ...replyBase(message),
        headers: { [HEADERS.status]: answer.status, [HEADERS.model]: model },
      };
      const body = Buffer.from(JSON.stringify(answer.body));
      publishes.push(
        replyTo
          ? publishConfirmed(channel, '', replyTo, body, options)
          : publishConfirmed(channel, RESULTS_EXCHANGE, `${model}.retrain`, body, options),
      );
      if (answer.runId !== undefined && replyTo) {
        context.pending.add(answer.runId, { replyTo, options: replyBase(message) });
      }
    } else {
      const dead = deadLetter(channel, queue, message, failure);
      publishes.push(...dead.publishes);
      log.info('retrain trigger dead-lettered', { queue, status: dead.status, error: dead.text });
    }
    await Promise.all(publishes);
    channel.ack(message);
    context.answered.add(id);
    metrics.trigger(
      'amqp',
      label,
      answer === undefined ? 'dead_lettered' : answer.runId ? 'started' : 'conflict',
    );
    if (answer?.runId !== undefined) context.onStarted?.(answer.runId);
  } catch (error) {
    // The channel went away before the answer was confirmed: the broker redelivers it.
    log.warn('retrain answer not confirmed; the broker will redeliver', {
      queue,
      error: (error as Error).message,
    });
  }
}
