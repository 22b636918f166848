/**
 * The AMQP 0-9-1 adapter (RabbitMQ): V2 infer requests from a queue per model, answers to
 * the request's reply_to, through the same data plane as HTTP (infer.ts).
 *
 * Delivery semantics:
 * - Manual acks, and only after the answer (or the dead letter) is confirmed by the broker
 *   (publisher confirms): a message in flight when the process stops or the connection
 *   drops is redelivered, never lost.
 * - Request queues are quorum queues with a delivery limit and a dead-letter exchange: a
 *   message that keeps failing (or crashing the replica) is dead-lettered after
 *   `deliveryLimit` deliveries instead of being redelivered forever.
 * - A client's mistake (not JSON, wrong shape, unknown model, too big) is published to the
 *   queue's dead-letter queue with the error in the `mscr-error` header (and answered with
 *   `{"error"}` when there is a reply_to), then acked: retrying cannot help.
 * - Our own trouble (no version available yet, a worker crash) is nacked with requeue.
 * - Prefetch bounds the unacked messages per consumer: that many requests reach the batcher
 *   at once, and HTTP requests still get their turn between them.
 * - A redelivered message whose id this replica already answered is acked, not answered
 *   again (a broker restart between answer and ack).
 */
import amqp, {
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Options,
} from 'amqplib';
import type { Logger } from '../observability/log.ts';
import {
  HEADERS,
  deadLetter,
  messageId,
  modelOfMessage,
  publishConfirmed,
  replyBase,
} from './amqp-message.ts';
import { handleRetrainMessage, type AmqpOutcomeRoute } from './amqp-retrain.ts';
import { AnsweredIds } from './answered.ts';
import type { BrokerEvent } from './events.ts';
import {
  errorText,
  inferWhenAvailable,
  isClientError,
  type BrokerInferOptions,
  type BrokerAnswer,
} from './infer.ts';
import type { BrokerMetrics } from './metrics.ts';
import {
  DEAD_EXCHANGE,
  EVENTS_EXCHANGE,
  RESULTS_EXCHANGE,
  named,
  redactUrl,
  type AmqpSettings,
} from './names.ts';
import { PendingOutcomes, outcomeAnswer, type RetrainTriggerOptions } from './retrain.ts';

export { HEADERS } from './amqp-message.ts';

export interface AmqpAdapterOptions extends BrokerInferOptions {
  settings: AmqpSettings;
  /** The models to consume for, asked again on `refresh()`. */
  models: () => string[];
  logger: Logger;
  metrics: BrokerMetrics;
  /** How long `stop()` waits for messages in flight before closing anyway (they are redelivered). */
  drainTimeoutMs: number;
  /** How long a message waits for its model to have a version before it is requeued. */
  unavailableWaitMs?: number;
  /** The retrain trigger; absent: the retrain queues are not consumed. */
  retrain?: RetrainTriggerOptions;
  /** Told when a trigger message started a run. */
  onRetrainStarted?: (runId: string) => void;
}

export class AmqpAdapter {
  readonly #options: AmqpAdapterOptions;
  readonly #log: Logger;
  readonly #answered = new AnsweredIds();
  /** Runs started by a trigger message: where their outcome is answered. */
  readonly #pending = new PendingOutcomes<AmqpOutcomeRoute>();
  #connection: ChannelModel | undefined;
  #channel: ConfirmChannel | undefined;
  /** Queue -> consumer tag on the current channel. */
  #consumers = new Map<string, string>();
  #inFlight = 0;
  #stopping = false;
  #connecting: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #connectedOnce: () => void = () => undefined;
  readonly #firstConnect: Promise<void>;

  constructor(options: AmqpAdapterOptions) {
    this.#options = options;
    this.#log = options.logger.child({ broker: 'amqp' });
    this.#firstConnect = new Promise((resolve) => (this.#connectedOnce = resolve));
  }

  /** Starts connecting (retrying with backoff while the broker is down); never throws. */
  start(): void {
    this.#stopping = false;
    this.#connect();
  }

  /** Resolves once connected and consuming (for tests and readiness of the CLI). */
  connected(): Promise<void> {
    return this.#firstConnect;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  #connect(): void {
    if (this.#stopping || this.#connecting) return;
    this.#connecting = this.#open()
      .then(() => {
        this.#attempt = 0;
        this.#options.metrics.connected('amqp', true);
        this.#log.info('connected', { url: redactUrl(this.#options.settings.url) });
        this.#connectedOnce();
      })
      .catch((error: unknown) => {
        this.#log.warn('cannot connect or set up; retrying', {
          url: redactUrl(this.#options.settings.url),
          error: (error as Error).message,
        });
        void this.#connection?.close().catch(() => undefined);
        this.#scheduleReconnect();
      })
      .finally(() => (this.#connecting = undefined));
  }

  #scheduleReconnect(): void {
    if (this.#stopping || this.#retryTimer) return;
    const delay = Math.min(5_000, 200 * 2 ** Math.min(this.#attempt++, 5));
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#connect();
    }, delay);
  }

  async #open(): Promise<void> {
    const connection = await amqp.connect(this.#options.settings.url, { timeout: 10_000 });
    this.#connection = connection;
    connection.on('error', (error: Error) =>
      this.#log.warn('connection error', { error: error.message }),
    );
    connection.on('close', () => {
      if (this.#connection !== connection) return;
      this.#connection = undefined;
      this.#channel = undefined;
      this.#consumers = new Map();
      this.#options.metrics.connected('amqp', false);
      if (!this.#stopping) {
        this.#log.warn('connection closed; reconnecting');
        this.#scheduleReconnect();
      }
    });
    const channel = await connection.createConfirmChannel();
    channel.on('error', (error: Error) =>
      this.#log.warn('channel error', { error: error.message }),
    );
    // A channel closed by the broker (e.g. a queue declared with other arguments): start over.
    channel.on('close', () => {
      if (this.#channel === channel && !this.#stopping) void connection.close().catch(() => {});
    });
    // Per consumer: each model's queue holds at most `prefetch` unacked messages here.
    await channel.prefetch(this.#options.settings.prefetch, false);
    await channel.assertExchange(DEAD_EXCHANGE, 'direct', { durable: true });
    await channel.assertExchange(RESULTS_EXCHANGE, 'topic', { durable: true });
    await channel.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true });
    this.#channel = channel;
    this.#consumers = new Map();
    const common = this.#options.settings.commonQueue;
    if (common !== '') await this.#consume(channel, common, `${common}.dead`, undefined);
    const commonRetrain = this.#options.settings.commonRetrainQueue;
    if (this.#options.retrain && commonRetrain !== '')
      await this.#consume(channel, commonRetrain, `${commonRetrain}.dead`, undefined, 'retrain');
    await this.refresh();
  }

  /** Consumes the queue of every model not consumed yet (call when models appear). */
  async refresh(): Promise<void> {
    const channel = this.#channel;
    if (!channel || this.#stopping) return;
    const { queue, deadQueue, retrainQueue } = this.#options.settings;
    for (const model of this.#options.models()) {
      await this.#consume(channel, named(queue, model), named(deadQueue, model), model);
      // A trigger's dead letters go to the model's dead queue too (`mscr-queue` says whose).
      if (this.#options.retrain && retrainQueue !== '') {
        const dead = named(deadQueue, model);
        await this.#consume(channel, named(retrainQueue, model), dead, model, 'retrain');
      }
    }
  }

  async #consume(
    channel: ConfirmChannel,
    queue: string,
    deadQueue: string,
    model: string | undefined,
    kind: 'infer' | 'retrain' = 'infer',
  ): Promise<void> {
    if (this.#consumers.has(queue)) return;
    this.#consumers.set(queue, '');
    await channel.assertQueue(deadQueue, { durable: true });
    await channel.bindQueue(deadQueue, DEAD_EXCHANGE, queue);
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-delivery-limit': this.#options.settings.deliveryLimit,
        'x-dead-letter-exchange': DEAD_EXCHANGE,
        'x-dead-letter-routing-key': queue,
      },
    });
    const { consumerTag } = await channel.consume(
      queue,
      (message) => {
        if (message === null) return;
        if (kind === 'infer') void this.#handle(channel, queue, model, message);
        else void this.#handleRetrain(channel, queue, model, message);
      },
      { noAck: false },
    );
    this.#consumers.set(queue, consumerTag);
  }

  async #handle(
    channel: ConfirmChannel,
    queue: string,
    queueModel: string | undefined,
    message: ConsumeMessage,
  ): Promise<void> {
    const started = performance.now();
    const metrics = this.#options.metrics;
    const label = queueModel ?? 'common';
    this.#inFlight++;
    metrics.count('amqp', label, 'consumed');
    if (message.fields.redelivered) metrics.count('amqp', label, 'redelivered');
    const id = messageId(message);
    try {
      if (message.fields.redelivered && this.#answered.has(id)) {
        metrics.count('amqp', label, 'duplicate');
        channel.ack(message);
        return;
      }
      let answer: BrokerAnswer | undefined;
      let failure: unknown;
      let model = label;
      try {
        model = modelOfMessage(queueModel, message);
        answer = await inferWhenAvailable(
          this.#options,
          model,
          message.content,
          message.properties.contentType,
          { waitMs: this.#options.unavailableWaitMs ?? 30_000, stopping: () => this.#stopping },
        );
      } catch (error) {
        failure = error;
      }
      if (failure !== undefined && !isClientError(failure)) {
        // Our trouble: leave it for a retry (the delivery limit dead-letters it eventually).
        this.#log.warn('message not answered; requeued', {
          queue,
          error: errorText(failure).message,
        });
        metrics.count('amqp', label, 'requeued');
        channel.nack(message, false, true);
        return;
      }
      const replyTo = message.properties.replyTo as string | undefined;
      const publishes: Promise<void>[] = [];
      if (answer !== undefined) {
        const options: Options.Publish = {
          ...replyBase(message),
          headers: {
            [HEADERS.status]: 200,
            [HEADERS.model]: model,
            [HEADERS.version]: answer.version,
            [HEADERS.predictionIds]: answer.predictionIds.join(','),
            ...(message.fields.redelivered ? { [HEADERS.redelivered]: true } : {}),
          },
        };
        const body = Buffer.from(JSON.stringify(answer.response));
        publishes.push(
          replyTo
            ? publishConfirmed(channel, '', replyTo, body, options)
            : publishConfirmed(channel, RESULTS_EXCHANGE, model, body, options),
        );
      } else {
        const dead = deadLetter(channel, queue, message, failure);
        publishes.push(...dead.publishes);
        this.#log.info('message dead-lettered', { queue, status: dead.status, error: dead.text });
      }
      await Promise.all(publishes);
      channel.ack(message);
      this.#answered.add(id);
      metrics.count('amqp', label, answer !== undefined ? 'answered' : 'dead_lettered');
      metrics.latency('amqp', label, (performance.now() - started) / 1000);
    } catch (error) {
      // The channel went away before the answer was confirmed or the ack sent: the broker
      // redelivers the message (to us after reconnecting, or to another replica).
      this.#log.warn('answer not confirmed; the broker will redeliver', {
        queue,
        error: (error as Error).message,
      });
    } finally {
      this.#inFlight--;
    }
  }

  async #handleRetrain(
    channel: ConfirmChannel,
    queue: string,
    queueModel: string | undefined,
    message: ConsumeMessage,
  ): Promise<void> {
    const retrain = this.#options.retrain;
    if (!retrain) return;
    this.#inFlight++;
    try {
      await handleRetrainMessage(
        {
          retrain,
          answered: this.#answered,
          pending: this.#pending,
          metrics: this.#options.metrics,
          log: this.#log,
          ...(this.#options.onRetrainStarted ? { onStarted: this.#options.onRetrainStarted } : {}),
        },
        channel,
        queue,
        queueModel,
        message,
      );
    } finally {
      this.#inFlight--;
    }
  }

  /**
   * Publishes an event to `mscr.events`, routing key `<model>.<type>` (best effort: dropped
   * while disconnected); a run's end is also answered to the trigger that started it here.
   */
  publishEvent(event: BrokerEvent): void {
    const channel = this.#channel;
    if (!channel) return;
    const route = 'runId' in event ? this.#pending.take(event) : undefined;
    if (route && 'runId' in event) {
      publishConfirmed(
        channel,
        '',
        route.replyTo,
        Buffer.from(JSON.stringify(outcomeAnswer(event))),
        { ...route.options, headers: { [HEADERS.status]: 200, [HEADERS.model]: event.model } },
      ).catch((error: unknown) =>
        this.#log.warn('retraining outcome not answered', { error: (error as Error).message }),
      );
    }
    this.#options.metrics.event('amqp', event.type);
    publishConfirmed(
      channel,
      EVENTS_EXCHANGE,
      `${event.model}.${event.type}`,
      Buffer.from(JSON.stringify(event)),
      { contentType: 'application/json', persistent: true },
    ).catch((error: unknown) =>
      this.#log.warn('event not published', { error: (error as Error).message }),
    );
  }

  /**
   * Stops consuming, lets the messages in flight be answered and acked (up to the drain
   * timeout), then closes: anything still unacked is redelivered by the broker.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#connecting?.catch(() => undefined);
    const channel = this.#channel;
    if (channel) {
      for (const tag of this.#consumers.values()) {
        if (tag !== '') await channel.cancel(tag).catch(() => undefined);
      }
    }
    const deadline = Date.now() + this.#options.drainTimeoutMs;
    while (this.#inFlight > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (this.#inFlight > 0)
      this.#log.warn('drain timeout: closing with messages in flight (they are redelivered)', {
        inFlight: this.#inFlight,
      });
    const connection = this.#connection;
    this.#connection = undefined;
    this.#channel = undefined;
    // Close the channel first and wait for the broker's close-ok: the broker handles a
    // channel's frames in order, so every ack sent above is settled before the channel
    // closes. Closing the connection straight away can overtake acks still queued on the
    // channel (the client multiplexes channels), and the broker would redeliver messages
    // we already answered to the next replica, which cannot know they were answered.
    if (channel) await withTimeout(channel.close(), 5_000).catch(() => undefined);
    await connection?.close().catch(() => undefined);
    this.#options.metrics.connected('amqp', false);
  }

  /** For tests: drops the connection without cancelling or draining (a crash, as the broker sees it). */
  async abort(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    const connection = this.#connection;
    this.#connection = undefined;
    this.#channel = undefined;
    await connection?.close().catch(() => undefined);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
