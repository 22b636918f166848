/** Broker settings: defaults, environment, flags, and the messages for bad values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configTextFromEnv, resolveConfig } from '../config.ts';
import { lifecycleEventOf } from './events.ts';
import { modelOfTopic, named, redactUrl } from './names.ts';
import { AnsweredIds } from './answered.ts';

test('brokers are off by default, with the documented names', () => {
  const { brokers } = resolveConfig({});
  assert.equal(brokers.amqp.url, '');
  assert.equal(brokers.mqtt.url, '');
  assert.equal(named(brokers.amqp.queue, 'iris'), 'mscr.iris.infer');
  assert.equal(named(brokers.amqp.deadQueue, 'iris'), 'mscr.iris.dead');
  assert.equal(named(brokers.mqtt.topic, 'iris'), 'mscr/iris/infer');
  assert.equal(named(brokers.mqtt.resultTopic, 'iris'), 'mscr/iris/result');
  assert.match(brokers.mqtt.clientId, /^mscr-/);
  assert.equal(named(brokers.amqp.retrainQueue, 'iris'), 'mscr.iris.retrain');
  assert.equal(brokers.amqp.commonRetrainQueue, 'mscr.retrain');
  assert.equal(named(brokers.mqtt.retrainTopic, 'iris'), 'mscr/iris/retrain');
  assert.equal(brokers.runPollMs, 5_000);
});

test('retrain trigger names and the events interval from the environment; off switches', () => {
  const env = configTextFromEnv({
    MSCR_AMQP_RETRAIN_QUEUE: 'jobs.{model}.retrain',
    MSCR_MQTT_RETRAIN_TOPIC: 'plant/{model}/retrain',
    MSCR_RETRAIN_EVENTS_INTERVAL: '0.5',
  });
  const { brokers } = resolveConfig(env);
  assert.equal(named(brokers.amqp.retrainQueue, 'iris'), 'jobs.iris.retrain');
  assert.equal(modelOfTopic(brokers.mqtt.retrainTopic, 'plant/iris/retrain'), 'iris');
  assert.equal(brokers.runPollMs, 500);
  const off = resolveConfig({ amqpRetrainQueue: 'off', mqttRetrainTopic: 'off' }).brokers;
  assert.equal(off.amqp.retrainQueue, '');
  assert.equal(
    off.amqp.commonRetrainQueue,
    '',
    'no common retrain queue without the per-model one',
  );
  assert.equal(off.mqtt.retrainTopic, '');
  assert.equal(resolveConfig({ amqpCommonQueue: 'off' }).brokers.amqp.commonRetrainQueue, '');
});

test('broker settings from the environment, flags win', () => {
  const env = configTextFromEnv({
    MSCR_AMQP_URL: 'amqp://u:p@rabbit:5672/%2f',
    MSCR_AMQP_PREFETCH: '64',
    MSCR_MQTT_URL: 'mqtt://mosquitto:1883',
    MSCR_MQTT_CLIENT_ID: 'mscr-0',
    MSCR_MQTT_TOPIC: 'plant/{model}/in',
  });
  const { brokers } = resolveConfig(env, { amqpPrefetch: '8', amqpCommonQueue: 'off' });
  assert.equal(brokers.amqp.url, 'amqp://u:p@rabbit:5672/%2f');
  assert.equal(brokers.amqp.prefetch, 8);
  assert.equal(brokers.amqp.commonQueue, '');
  assert.equal(brokers.mqtt.clientId, 'mscr-0');
  assert.equal(modelOfTopic(brokers.mqtt.topic, 'plant/iris/in'), 'iris');
});

test('bad broker settings say what to fix', () => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ amqpUrl: 'http://rabbit' }, /AMQP URL must start with amqp:\/\/ or amqps:\/\//],
    [{ amqpUrl: 'not a url' }, /AMQP URL is not a URL/],
    [{ mqttUrl: 'amqp://x' }, /MQTT URL must start with mqtt:/],
    [{ amqpPrefetch: '0' }, /AMQP prefetch must be an integer from 1/],
    [{ amqpPrefetch: '1e9' }, /AMQP prefetch/],
    [{ amqpQueue: 'fixed-name' }, /must contain \{model\}/],
    [{ amqpQueue: 'bad name {model}' }, /letters, digits/],
    [{ mqttTopic: 'mscr/#/{model}' }, /wildcards/],
    [{ mqttResultTopic: 'out' }, /must contain \{model\}/],
    [{ mqttClientId: 'has space' }, /client id/],
    [{ mqttClientId: 'x'.repeat(65) }, /client id/],
    [{ amqpDeliveryLimit: '-1' }, /delivery limit/],
    [{ amqpRetrainQueue: 'retrain' }, /AMQP retrain queue must contain \{model\}/],
    [{ amqpRetrainQueue: 'a b.{model}' }, /AMQP retrain queue may use letters/],
    [{ mqttRetrainTopic: 'mscr/+/{model}' }, /MQTT retrain topic may not contain MQTT wildcards/],
    [
      { retrainEventsInterval: '0' },
      /retraining events interval \(seconds\) must be a number from 0.05/,
    ],
    [{ retrainEventsInterval: 'soon' }, /retraining events interval/],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => resolveConfig(text), message, JSON.stringify(text));
  }
});

test('names: model of a topic, redacted URLs', () => {
  assert.equal(modelOfTopic('mscr/{model}/infer', 'mscr/iris/infer'), 'iris');
  assert.equal(modelOfTopic('mscr/{model}/infer', 'mscr//infer'), undefined);
  assert.equal(modelOfTopic('mscr/{model}/infer', 'mscr/a/b/infer'), undefined);
  assert.equal(modelOfTopic('mscr/{model}/infer', 'other/iris/infer'), undefined);
  assert.equal(redactUrl('amqp://user:secret@host:5672'), 'amqp://user:***@host:5672');
  assert.doesNotMatch(redactUrl('mqtt://u:secret@h'), /secret/);
});

test('lifecycle events from the reload manager', () => {
  const at = new Date('2026-01-01T00:00:00Z');
  assert.deepEqual(
    lifecycleEventOf({ type: 'serving', model: 'm', version: 2, previous: undefined }, at),
    { type: 'serving', model: 'm', version: 2, previous: null, at: at.toISOString() },
  );
  assert.equal(
    lifecycleEventOf({ type: 'loaded' as never, model: 'm', version: 1 } as never, at),
    undefined,
  );
  assert.equal(
    lifecycleEventOf(
      { type: 'failed', model: 'm', version: 3, attempt: 1, error: 'bad', retryInMs: 5 },
      at,
    )?.type,
    'failed',
  );
});

test('answered ids are bounded', () => {
  const ids = new AnsweredIds(3);
  for (const id of ['a', 'b', 'c', 'd']) ids.add(id);
  assert.equal(ids.has('a'), false);
  assert.equal(ids.has('d'), true);
  assert.equal(ids.has(undefined), false);
});
