/**
 * Broker settings and the names derived from them: queues and topics are templates with a
 * `{model}` placeholder, so one setting names every model's queue. Defaults (issue 17):
 * AMQP requests on `mscr.<model>.infer`, dead letters on `mscr.<model>.dead`, answers to the
 * request's reply_to (else exchange `mscr.results`, routing key `<model>`), events on
 * exchange `mscr.events`; MQTT requests on `mscr/<model>/infer`, answers on the MQTT 5
 * response topic (else `mscr/<model>/result`), events on `mscr/events/<model>`. Retrain
 * triggers: AMQP `mscr.<model>.retrain` (and `mscr.retrain` with the `mscr-model` header),
 * MQTT `mscr/<model>/retrain` (answers on `mscr/<model>/retrain/result`).
 */
import { MscrError } from '../../connectors/errors.ts';

export interface AmqpSettings {
  /** `amqp://user:pass@host:5672/vhost`; `''` = no AMQP adapter. */
  url: string;
  /** Unacknowledged messages a replica holds per queue: what feeds the batcher. */
  prefetch: number;
  /** Request queue per model, `{model}` replaced. */
  queue: string;
  /** Dead-letter queue per model. */
  deadQueue: string;
  /** One more request queue for every model: the model is in the `mscr-model` header. */
  commonQueue: string;
  /** Deliveries of one message before it is dead-lettered (quorum queue delivery limit). */
  deliveryLimit: number;
  /**
   * Retrain trigger queue per model (`''` = none); consumed only when the service has a
   * retraining launcher and an admin token. Dead letters go to the model's dead queue.
   */
  retrainQueue: string;
  /** The retrain trigger queue for every model (`mscr-model` header); `''` = none. */
  commonRetrainQueue: string;
}

export interface MqttSettings {
  /** `mqtt://host:1883` (or mqtts://, ws://, wss://); `''` = no MQTT adapter. */
  url: string;
  /** Stable client id, so the broker keeps the session (QoS 1 messages) across restarts. */
  clientId: string;
  /** Request topic per model, `{model}` replaced. */
  topic: string;
  /** Answer topic per model when the request names no MQTT 5 response topic. */
  resultTopic: string;
  /** Messages in flight at once (MQTT 5 receive maximum; feeds the batcher). */
  inflight: number;
  /**
   * Retrain trigger topic per model (`''` = none); answers on the MQTT 5 response topic,
   * else on this topic + `/result`. Subscribed only with a launcher and an admin token.
   */
  retrainTopic: string;
}

export const DEFAULT_AMQP: AmqpSettings = {
  url: '',
  prefetch: 32,
  queue: 'mscr.{model}.infer',
  deadQueue: 'mscr.{model}.dead',
  commonQueue: 'mscr.infer',
  deliveryLimit: 5,
  retrainQueue: 'mscr.{model}.retrain',
  commonRetrainQueue: 'mscr.retrain',
};

export const DEFAULT_MQTT: Omit<MqttSettings, 'clientId'> = {
  url: '',
  topic: 'mscr/{model}/infer',
  resultTopic: 'mscr/{model}/result',
  inflight: 32,
  retrainTopic: 'mscr/{model}/retrain',
};

/** How often the run records are read for retraining events (`MSCR_RETRAIN_EVENTS_INTERVAL`). */
export const DEFAULT_RUN_POLL_MS = 5_000;

export const DEAD_EXCHANGE = 'mscr.dead';
export const RESULTS_EXCHANGE = 'mscr.results';
export const EVENTS_EXCHANGE = 'mscr.events';
export const MQTT_EVENTS_TOPIC = 'mscr/events/{model}';
/** The AMQP header naming the model on the common queue. */
export const MODEL_HEADER = 'mscr-model';

export function named(template: string, model: string): string {
  return template.split('{model}').join(model);
}

/** Checks a `{model}` template; `allowWildcards` false for MQTT (a model name is one topic level). */
export function checkTemplate(template: string, what: string, mqtt: boolean): string {
  if (!template.includes('{model}')) {
    throw new MscrError(
      'config',
      `${what} must contain {model} (one queue or topic per model), got ${JSON.stringify(template)}`,
    );
  }
  if (mqtt && /[#+]/.test(template)) {
    throw new MscrError('config', `${what} may not contain MQTT wildcards # or +`);
  }
  if (template.length > 200) throw new MscrError('config', `${what} is longer than 200 characters`);
  return template;
}

/** The model a concrete MQTT topic names under a template, or undefined. */
export function modelOfTopic(template: string, topic: string): string | undefined {
  const [before, after] = template.split('{model}') as [string, string];
  if (!topic.startsWith(before) || !topic.endsWith(after)) return undefined;
  const model = topic.slice(before.length, topic.length - after.length);
  return model === '' || model.includes('/') ? undefined : model;
}

/**
 * The response topic a request names, when it is one we may publish to (no wildcards, not a
 * `$` system topic, no U+0000, at most 1024 characters), else undefined.
 */
export function safeResponseTopic(topic: unknown): string | undefined {
  return typeof topic === 'string' &&
    topic !== '' &&
    topic.length <= 1024 &&
    !topic.includes('\u0000') &&
    !/[#+]|^\$/.test(topic)
    ? topic
    : undefined;
}

/** A broker URL for logs: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable url)';
  }
}

/** Checks a broker URL's scheme; the message says what to send. */
export function checkBrokerUrl(url: string, schemes: readonly string[], what: string): string {
  if (url === '') return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MscrError(
      'config',
      `${what} is not a URL: use ${schemes[0]}//user:password@host:port (credentials from a Secret)`,
    );
  }
  if (!schemes.includes(parsed.protocol)) {
    throw new MscrError(
      'config',
      `${what} must start with ${schemes.map((s) => `${s}//`).join(' or ')}, got ${parsed.protocol}//`,
    );
  }
  return url;
}
