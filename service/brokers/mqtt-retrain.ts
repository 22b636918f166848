/**
 * The MQTT side of the retrain trigger (retrain.ts): a message on `mscr/<model>/retrain`
 * with the MQTT 5 user property `authorization: Bearer <admin token>`. Answered on the MQTT 5
 * response topic with the correlation data when given, else on `mscr/<model>/retrain/result`:
 * `{"model", "runId", "state": "started"}` (user property `mscr-status` 202), the conflict
 * (409), or the error (`mscr-error`; MQTT has no dead-letter queue, so a bad trigger is
 * answered with its error and acknowledged, never redelivered, never starting a run); and,
 * when the run ends, its outcome on the same topic.
 */
import type { IPublishPacket, MqttClient } from 'mqtt';
import { MscrError } from '../../connectors/errors.ts';
import type { Logger } from '../observability/log.ts';
import { errorText } from './infer.ts';
import type { BrokerMetrics, TriggerOutcome } from './metrics.ts';
import { modelOfTopic, named, safeResponseTopic, type MqttSettings } from './names.ts';
import {
  AUTHORIZATION,
  headerText,
  isConflict,
  triggerRetrain,
  type PendingOutcomes,
  type RetrainTriggerOptions,
} from './retrain.ts';

/** Where a run's outcome goes: the trigger's answer topic and correlation data. */
export interface MqttOutcomeRoute {
  topic: string;
  correlationData?: Buffer;
}

export interface MqttRetrainContext {
  retrain: RetrainTriggerOptions;
  publisher: MqttClient;
  settings: MqttSettings;
  pending: PendingOutcomes<MqttOutcomeRoute>;
  metrics: BrokerMetrics;
  log: Logger;
  models: () => readonly string[];
  onStarted?: (runId: string) => void;
}

/** Answers one trigger; throws when the answer could not be published (not acknowledged). */
export async function handleMqttRetrain(
  context: MqttRetrainContext,
  topic: string,
  payload: Buffer,
  packet: IPublishPacket,
): Promise<void> {
  const { settings, log } = context;
  const model = modelOfTopic(settings.retrainTopic, topic);
  // A metric label only for a model the service knows: topics are the senders' choice.
  const label = model !== undefined && context.models().includes(model) ? model : 'unknown';
  const props = packet.properties ?? {};
  let body: object;
  let status: number;
  let outcome: TriggerOutcome;
  let runId: string | undefined;
  try {
    if (model === undefined)
      throw new MscrError('bad_request', `topic ${JSON.stringify(topic)} names no model`);
    const started = await triggerRetrain(
      context.retrain,
      model,
      headerText(props.userProperties?.[AUTHORIZATION]),
      payload,
    );
    ({ runId } = started);
    body = started;
    status = 202;
    outcome = 'started';
  } catch (error) {
    const text = errorText(error);
    status = text.status;
    if (isConflict(error)) {
      body = { error: text.message, model, state: 'conflict' };
      outcome = 'conflict';
    } else {
      body = { error: text.message };
      outcome = 'dead_lettered';
      log.info('retrain trigger refused', { topic, status, error: text.message });
    }
  }
  const answerTopic =
    safeResponseTopic(props.responseTopic) ??
    `${named(settings.retrainTopic, model ?? 'unknown')}/result`;
  const correlation = props.correlationData ? { correlationData: props.correlationData } : {};
  const userProperties: Record<string, string> = { 'mscr-status': String(status) };
  if ('error' in body) userProperties['mscr-error'] = (body as { error: string }).error;
  await context.publisher.publishAsync(answerTopic, JSON.stringify(body), {
    qos: 1,
    properties: { contentType: 'application/json', userProperties, ...correlation },
  });
  context.metrics.trigger('mqtt', label, outcome);
  if (runId !== undefined) {
    context.pending.add(runId, { topic: answerTopic, ...correlation });
    context.onStarted?.(runId);
  }
}
