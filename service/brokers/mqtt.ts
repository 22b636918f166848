/**
 * The MQTT 3.1.1/5 adapter (mosquitto and any MQTT broker): V2 infer requests on
 * `mscr/<model>/infer` (one wildcard subscription), answers on the MQTT 5 response topic
 * with the request's correlation data when given, else on `mscr/<model>/result`.
 *
 * Delivery semantics: QoS 1 both ways, a persistent session (clean = false, a stable client
 * id, a session expiry), and the PUBACK of a request only after its answer is acknowledged
 * by the broker: a request in flight when the service stops stays in the session and is
 * redelivered when it comes back. MQTT has no dead-letter queue and no nack, so a bad
 * request (not JSON, wrong shape, unknown model) is answered on the same topic with
 * `{"error"}` and user property `mscr-status`, and acknowledged: never redelivered.
 *
 * Why two connections: mqtt.js handles incoming packets one at a time, so an answer's PUBACK
 * could not be read while a request's handler holds the reader. Answers go out on a second
 * (clean) connection. Requests are handled side by side, up to `MSCR_MQTT_INFLIGHT` (the
 * receive maximum the broker honours), so they reach the batcher together; their PUBACKs go
 * out in arrival order, as MQTT asks (mqtt-window.ts).
 */
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { MscrError, isMscrError } from '../../connectors/errors.ts';
import type { Logger } from '../observability/log.ts';
import type { BrokerEvent } from './events.ts';
import { errorText, inferWhenAvailable, type BrokerInferOptions } from './infer.ts';
import type { BrokerMetrics } from './metrics.ts';
import { handleMqttRetrain, type MqttOutcomeRoute } from './mqtt-retrain.ts';
import { AckWindow, DEFERRED, pubackSender } from './mqtt-window.ts';
import {
  MQTT_EVENTS_TOPIC,
  modelOfTopic,
  named,
  redactUrl,
  safeResponseTopic,
  type MqttSettings,
} from './names.ts';
import { PendingOutcomes, outcomeAnswer, type RetrainTriggerOptions } from './retrain.ts';

export interface MqttAdapterOptions extends BrokerInferOptions {
  settings: MqttSettings;
  models: () => string[];
  logger: Logger;
  metrics: BrokerMetrics;
  drainTimeoutMs: number;
  /** How long a request waits for its model to have a version before the answer is an error. */
  unavailableWaitMs?: number;
  /** The retrain trigger; absent: the retrain topic is not subscribed. */
  retrain?: RetrainTriggerOptions;
  /** Told when a trigger message started a run. */
  onRetrainStarted?: (runId: string) => void;
}

/** A week: how long the broker keeps our session (and queued requests) while we are away. */
const SESSION_EXPIRY_S = 7 * 24 * 3600;

export class MqttAdapter {
  readonly #options: MqttAdapterOptions;
  readonly #log: Logger;
  #consumer: MqttClient | undefined;
  #publisher: MqttClient | undefined;
  #stopping = false;
  #inFlight = 0;
  /** Runs started by a trigger message: where their outcome is answered. */
  readonly #pending = new PendingOutcomes<MqttOutcomeRoute>();
  /** Requests in flight on this connection, PUBACKed in order (undefined: one at a time). */
  #window: AckWindow | undefined;
  #connectedOnce: () => void = () => undefined;
  readonly #firstConnect: Promise<void>;

  constructor(options: MqttAdapterOptions) {
    this.#options = options;
    this.#log = options.logger.child({ broker: 'mqtt' });
    this.#firstConnect = new Promise((resolve) => (this.#connectedOnce = resolve));
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The most requests handled at once on one connection (1 when the window is off). */
  get peakInFlight(): number {
    return this.#window?.peak ?? Math.min(1, this.#inFlight);
  }

  connected(): Promise<void> {
    return this.#firstConnect;
  }

  /** The subscriptions: the request template with `+` for the model, and the retrain one. */
  get #filters(): string[] {
    const { topic, retrainTopic } = this.#options.settings;
    return [
      named(topic, '+'),
      ...(this.#options.retrain && retrainTopic !== '' ? [named(retrainTopic, '+')] : []),
    ];
  }

  start(): void {
    this.#stopping = false;
    const { url, clientId, inflight } = this.#options.settings;
    const common = { protocolVersion: 5 as const, reconnectPeriod: 1_000, connectTimeout: 10_000 };
    this.#publisher = mqtt.connect(url, {
      ...common,
      clientId: `${clientId}-answers`,
      clean: true,
    });
    this.#publisher.on('error', (error) =>
      this.#log.warn('answer connection error', { error: error.message }),
    );
    const consumer = mqtt.connect(url, {
      ...common,
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: SESSION_EXPIRY_S, receiveMaximum: inflight },
      customHandleAcks: (topic, payload, packet, done) => {
        const window = this.#window;
        if (window === undefined) {
          // One at a time: the PUBACK goes out when `done` is called, after the answer.
          this.#dispatch(topic, payload, packet).then(
            (handled) => {
              if (handled) done(0);
              // Not handled (stopping): no PUBACK; the session redelivers it later.
            },
            () => undefined,
          );
          return;
        }
        // The window: mqtt.js reads on (handleMessage defers the PUBACK), this request is
        // handled beside the others in flight, and its PUBACK goes out in order once answered.
        const settle = window.open(packet);
        done(0);
        this.#dispatch(topic, payload, packet).then(settle, () => settle(false));
      },
    });
    const puback = pubackSender(consumer);
    this.#window = puback ? new AckWindow(puback) : undefined;
    if (this.#window) {
      consumer.handleMessage = (packet, callback) =>
        callback(packet.cmd === 'publish' && packet.qos === 1 ? DEFERRED : undefined);
    }
    this.#consumer = consumer;
    consumer.on('connect', (connack) => {
      this.#window?.reset();
      this.#options.metrics.connected('mqtt', true);
      this.#log.info('connected', {
        url: redactUrl(url),
        sessionPresent: connack.sessionPresent,
      });
      // A resumed session keeps its subscription; subscribing again is harmless.
      consumer.subscribe(this.#filters, { qos: 1 }, (error) => {
        if (error) this.#log.error('cannot subscribe', { error: error.message });
        else this.#connectedOnce();
      });
    });
    consumer.on('close', () => this.#options.metrics.connected('mqtt', false));
    consumer.on('error', (error) => this.#log.warn('connection error', { error: error.message }));
  }

  /** Topics are subscribed by wildcard: nothing to do when a model appears. */
  async refresh(): Promise<void> {}

  /** A request or a retrain trigger, by its topic. */
  #dispatch(topic: string, payload: Buffer, packet: IPublishPacket): Promise<boolean> {
    const { retrainTopic } = this.#options.settings;
    const retrain = this.#options.retrain;
    const [before, after] = retrainTopic.split('{model}') as [string, string];
    // By the subscription's shape (`mscr/+/retrain`), so an empty or odd model is the
    // retrain handler's to refuse.
    const isRetrain =
      retrainTopic !== '' &&
      topic.startsWith(before) &&
      topic.endsWith(after) &&
      topic.length >= before.length + after.length;
    if (retrain && isRetrain) {
      return this.#handleRetrain(topic, payload, packet, retrain);
    }
    return this.#handle(topic, payload, packet);
  }

  async #handleRetrain(
    topic: string,
    payload: Buffer,
    packet: IPublishPacket,
    retrain: RetrainTriggerOptions,
  ): Promise<boolean> {
    const publisher = this.#publisher;
    if (this.#stopping || !publisher) return false;
    this.#inFlight++;
    try {
      await handleMqttRetrain(
        {
          retrain,
          publisher,
          settings: this.#options.settings,
          pending: this.#pending,
          metrics: this.#options.metrics,
          log: this.#log,
          models: () => this.#options.dataPlane.listModels(),
          ...(this.#options.onRetrainStarted ? { onStarted: this.#options.onRetrainStarted } : {}),
        },
        topic,
        payload,
        packet,
      );
      return true;
    } catch (error) {
      this.#redeliverLater('retrain answer', topic, error);
      return false;
    } finally {
      this.#inFlight--;
    }
  }

  /** Answers one request; false when it was left unanswered for a redelivery. */
  async #handle(topic: string, payload: Buffer, packet: IPublishPacket): Promise<boolean> {
    if (this.#stopping) return false;
    const started = performance.now();
    const metrics = this.#options.metrics;
    const model = modelOfTopic(this.#options.settings.topic, topic);
    // A metric label only for a model the service knows: topics are the senders' choice.
    const label =
      model !== undefined && this.#options.dataPlane.listModels().includes(model)
        ? model
        : 'unknown';
    this.#inFlight++;
    metrics.count('mqtt', label, 'consumed');
    if (packet.dup) metrics.count('mqtt', label, 'redelivered');
    try {
      let body: Buffer;
      const userProperties: Record<string, string> = {};
      let ok = false;
      try {
        if (model === undefined)
          throw new MscrError('bad_request', `topic ${JSON.stringify(topic)} names no model`);
        const answer = await inferWhenAvailable(
          this.#options,
          model,
          payload,
          packet.properties?.contentType,
          { waitMs: this.#options.unavailableWaitMs ?? 30_000, stopping: () => this.#stopping },
        );
        body = Buffer.from(JSON.stringify(answer.response));
        userProperties['mscr-status'] = '200';
        userProperties['mscr-model-version'] = String(answer.version);
        userProperties['mscr-prediction-ids'] = answer.predictionIds.join(',');
        ok = true;
      } catch (error) {
        if (this.#stopping && isMscrError(error, 'unavailable')) return false;
        const { status, message } = errorText(error);
        body = Buffer.from(JSON.stringify({ error: message }));
        userProperties['mscr-status'] = String(status);
        userProperties['mscr-error'] = message;
        this.#log.info('request answered with an error', { topic, status, error: message });
      }
      const props = packet.properties ?? {};
      const responseTopic =
        safeResponseTopic(props.responseTopic) ??
        named(this.#options.settings.resultTopic, model ?? 'unknown');
      const publisher = this.#publisher;
      if (!publisher) return false;
      const correlation = props.correlationData ? { correlationData: props.correlationData } : {};
      try {
        await publisher.publishAsync(responseTopic, body, {
          qos: 1,
          properties: { contentType: 'application/json', userProperties, ...correlation },
        });
      } catch (error) {
        if (this.#stopping) return false;
        // The broker refused this answer (not a lost connection: QoS 1 publishes wait for
        // a reconnect): say so in a plain answer rather than leave the request unacked.
        this.#log.warn('answer refused by the broker; sending a plain error', {
          topic: responseTopic,
          error: (error as Error).message,
        });
        ok = false;
        await publisher.publishAsync(
          responseTopic,
          JSON.stringify({ error: 'the answer could not be published to this topic' }),
          { qos: 1, properties: { userProperties: { 'mscr-status': '500' }, ...correlation } },
        );
      }
      metrics.count('mqtt', label, ok ? 'answered' : 'dead_lettered');
      metrics.latency('mqtt', label, (performance.now() - started) / 1000);
      return true;
    } catch (error) {
      this.#redeliverLater('answer', topic, error);
      return false;
    } finally {
      this.#inFlight--;
    }
  }

  /**
   * A message whose answer could not be published stays unacknowledged. PUBACKs go in
   * arrival order, so one left without its PUBACK would hold back every later one: drop the
   * connection instead; it reconnects and the session redelivers what was not acknowledged.
   */
  #redeliverLater(what: string, topic: string, error: unknown): void {
    this.#log.warn(`${what} not published; reconnecting so the session redelivers it`, {
      topic,
      error: (error as Error).message,
    });
    if (!this.#stopping) this.#consumer?.stream.destroy();
  }

  /**
   * Publishes an event on `mscr/events/<model>` (QoS 1, best effort while offline); a run's
   * end is also answered to the trigger that started it here.
   */
  publishEvent(event: BrokerEvent): void {
    const publisher = this.#publisher;
    if (!publisher?.connected) return;
    const route = 'runId' in event ? this.#pending.take(event) : undefined;
    if (route && 'runId' in event) {
      publisher
        .publishAsync(route.topic, JSON.stringify(outcomeAnswer(event)), {
          qos: 1,
          properties: {
            contentType: 'application/json',
            userProperties: { 'mscr-status': '200' },
            ...(route.correlationData ? { correlationData: route.correlationData } : {}),
          },
        })
        .catch((error: unknown) =>
          this.#log.warn('retraining outcome not answered', { error: (error as Error).message }),
        );
    }
    this.#options.metrics.event('mqtt', event.type);
    publisher
      .publishAsync(named(MQTT_EVENTS_TOPIC, event.model), JSON.stringify(event), {
        qos: 1,
        properties: { contentType: 'application/json' },
      })
      .catch((error: unknown) =>
        this.#log.warn('event not published', { error: (error as Error).message }),
      );
  }

  /**
   * Stops taking requests, lets the one in flight be answered (up to the drain timeout), then
   * disconnects. Requests not acknowledged stay in the broker's session for the next start.
   */
  async stop(): Promise<void> {
    // New requests are left unacknowledged from here; the one in flight is answered.
    this.#stopping = true;
    const deadline = Date.now() + this.#options.drainTimeoutMs;
    while (this.#inFlight > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const consumer = this.#consumer;
    const publisher = this.#publisher;
    this.#consumer = undefined;
    this.#publisher = undefined;
    // Force: a clean DISCONNECT without waiting; unacked requests stay in the session.
    await consumer?.endAsync(true).catch(() => undefined);
    await publisher?.endAsync(false).catch(() => undefined);
    this.#options.metrics.connected('mqtt', false);
  }
}
