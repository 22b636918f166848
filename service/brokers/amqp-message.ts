/**
 * What the AMQP adapter's handlers share about one message: its answer headers, its id for
 * duplicate detection, the model it names, confirmed publishing, and dead-lettering with
 * the error.
 */
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { MscrError } from '../../connectors/errors.ts';
import { errorText } from './infer.ts';
import { DEAD_EXCHANGE, MODEL_HEADER } from './names.ts';

/** The answer headers: what a caller needs to follow up (feedback by prediction id). */
export const HEADERS = {
  version: 'mscr-model-version',
  predictionIds: 'mscr-prediction-ids',
  status: 'mscr-status',
  error: 'mscr-error',
  model: 'mscr-model',
  redelivered: 'mscr-redelivered',
} as const;

const MAX_MODEL_HEADER = 128;

/** The message's id for duplicate detection: its message id (else correlation id) per queue. */
export function messageId(message: ConsumeMessage): string | undefined {
  const props = message.properties as { messageId?: unknown; correlationId?: unknown };
  const id = props.messageId ?? props.correlationId;
  return typeof id === 'string' && id.length <= 256
    ? `${message.fields.routingKey}:${id}`
    : undefined;
}

/** The model of a message: its queue's, or on a common queue the `mscr-model` header. */
export function modelOfMessage(queueModel: string | undefined, message: ConsumeMessage): string {
  if (queueModel !== undefined) return queueModel;
  const header: unknown = message.properties.headers?.[MODEL_HEADER];
  const value = Buffer.isBuffer(header) ? header.toString('utf8') : header;
  if (typeof value !== 'string' || value === '' || value.length > MAX_MODEL_HEADER) {
    throw new MscrError(
      'bad_request',
      `a message on the common queue names its model in the ${MODEL_HEADER} header (a string of at most ${MAX_MODEL_HEADER} characters)`,
    );
  }
  return value;
}

/** Publishes and resolves once the broker confirms it (publisher confirms). */
export function publishConfirmed(
  channel: ConfirmChannel,
  exchange: string,
  key: string,
  body: Buffer,
  options: Options.Publish,
): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      channel.publish(exchange, key, body, options, (error: unknown) =>
        error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
      );
    } catch (error) {
      reject(error as Error);
    }
  });
}

/** The reply properties every answer carries: the request's correlation and message ids. */
export function replyBase(message: ConsumeMessage): Options.Publish {
  const { correlationId } = message.properties as { correlationId?: unknown };
  return {
    contentType: 'application/json',
    persistent: true,
    ...(correlationId !== undefined ? { correlationId: String(correlationId) } : {}),
    ...(typeof message.properties.messageId === 'string'
      ? { messageId: message.properties.messageId }
      : {}),
  };
}

/**
 * A client's mistake: the original body and properties to the dead-letter exchange with the
 * error (what an operator needs to fix it), and `{"error"}` to the reply_to when there is one.
 */
export function deadLetter(
  channel: ConfirmChannel,
  queue: string,
  message: ConsumeMessage,
  failure: unknown,
): { status: number; text: string; publishes: Promise<void>[] } {
  const { status, message: text } = errorText(failure);
  // Never a credential in a dead-letter queue (a retrain trigger carries the admin token).
  const kept = Object.fromEntries(
    Object.entries(message.properties.headers ?? {}).filter(
      ([key]) => key.toLowerCase() !== 'authorization',
    ),
  );
  const publishes = [
    publishConfirmed(channel, DEAD_EXCHANGE, queue, message.content, {
      ...message.properties,
      headers: {
        ...kept,
        [HEADERS.error]: text,
        [HEADERS.status]: status,
        'mscr-queue': queue,
      },
    } as Options.Publish),
  ];
  const replyTo = message.properties.replyTo as string | undefined;
  if (replyTo) {
    publishes.push(
      publishConfirmed(channel, '', replyTo, Buffer.from(JSON.stringify({ error: text })), {
        ...replyBase(message),
        headers: { [HEADERS.status]: status, [HEADERS.error]: text },
      }),
    );
  }
  return { status, text, publishes };
}
