/**
 * The request trigger over a broker: a message on `mscr.<model>.retrain` (AMQP) or
 * `mscr/<model>/retrain` (MQTT) starts a retraining run, as `POST /mscr/models/{m}/retrain`
 * does, with the same checks in the same order: the admin token (the `authorization` header
 * or MQTT 5 user property, `Bearer <token>`), the body (`{}`, `{"reason": "..."}` or empty),
 * the model, then the launcher (a conflict while a run holds the model's lease).
 *
 * A client's mistake is an `MscrError` with a 4xx status (the adapters dead-letter it with
 * the error; retrying cannot help); a conflict is an answer, not a dead letter.
 */
import { MscrError, isMscrError } from '../../connectors/errors.ts';
import type { RetrainLauncher, RetrainResponse } from '../../connectors/sr/index.ts';
import type { DataPlane } from '../dataplane/index.ts';
import { bearerProblem, parseRetrainRequest } from '../http/admin.ts';
import type { RetrainingEvent } from './events.ts';

/** A trigger is a token and a reason: anything bigger is not one. */
export const RETRAIN_MAX_BYTES = 4096;

/** The header (AMQP) or user property (MQTT 5) carrying `Bearer <admin token>`. */
export const AUTHORIZATION = 'authorization';

export interface RetrainTriggerOptions {
  launcher: RetrainLauncher;
  /** The service's admin token (`MSCR_ADMIN_TOKEN`); `''` leaves the trigger off. */
  adminToken: string;
  dataPlane: DataPlane;
}

/** A header or user property value as text (AMQP long strings may arrive as bytes). */
export function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/** Starts a run for a trigger message, or throws the `MscrError` to dead-letter or answer. */
export async function triggerRetrain(
  options: RetrainTriggerOptions,
  model: string,
  authorization: string | undefined,
  body: Buffer,
): Promise<RetrainResponse> {
  const problem = bearerProblem(authorization, options.adminToken);
  if (problem === 'missing') {
    throw new MscrError(
      'bad_request',
      `send the admin token: the ${AUTHORIZATION} header (AMQP) or user property (MQTT 5) "Bearer <token>"`,
      { status: 401 },
    );
  }
  if (problem === 'invalid')
    throw new MscrError('bad_request', 'the admin token is not valid', { status: 401 });
  if (body.length > RETRAIN_MAX_BYTES) {
    throw new MscrError(
      'bad_request',
      `a retrain message of ${body.length} bytes is larger than the ${RETRAIN_MAX_BYTES}-byte limit: send {"reason": "..."} or nothing`,
      { status: 413 },
    );
  }
  let json: unknown;
  if (body.length > 0) {
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new MscrError(
        'bad_request',
        'a retrain message is empty or a JSON object {"reason": "..."}; this body is not JSON',
      );
    }
  }
  const request = parseRetrainRequest(json);
  options.dataPlane.status(model); // not_found (404) for a model this service does not serve
  const { runId } = await oneAtATime(options.launcher, model, () =>
    options.launcher.start(model, {
      kind: 'request',
      ...(request.reason !== undefined ? { reason: request.reason } : {}),
    }),
  );
  return { model, runId, state: 'started' };
}

/** Per launcher and model: the start in progress, which the next one waits for. */
const starting = new WeakMap<RetrainLauncher, Map<string, Promise<unknown>>>();

/**
 * Runs one launcher start per model at a time. A broker delivers triggers in bursts (up to
 * the prefetch at once), and a launcher's conflict check reads the lease before it starts
 * the job: two starts interleaved there would both pass and start two jobs, the second
 * failing on the lease. One after the other, the second sees the first and is a conflict.
 */
async function oneAtATime<T>(
  launcher: RetrainLauncher,
  model: string,
  start: () => Promise<T>,
): Promise<T> {
  let byModel = starting.get(launcher);
  if (!byModel) starting.set(launcher, (byModel = new Map()));
  const previous = byModel.get(model) ?? Promise.resolve();
  const mine = previous.catch(() => undefined).then(start);
  byModel.set(model, mine);
  try {
    return await mine;
  } finally {
    if (byModel.get(model) === mine) byModel.delete(model);
  }
}

/** A conflict (a run holds the model) is answered on reply_to, not dead-lettered. */
export function isConflict(error: unknown): boolean {
  return isMscrError(error, 'conflict');
}

/** What the trigger's sender gets when its run ends: the outcome event, as an answer. */
export function outcomeAnswer(event: RetrainingEvent): object {
  return { ...event, state: event.type.slice('retraining.'.length) };
}

/**
 * Where to answer the outcome of runs started by a message, by run id, until the run ends
 * (bounded: a run that never ends in sight of this replica is forgotten after `max` more).
 */
export class PendingOutcomes<Route> {
  readonly #routes = new Map<string, Route>();
  readonly #max: number;

  constructor(max = 1000) {
    this.#max = max;
  }

  add(runId: string, route: Route): void {
    this.#routes.set(runId, route);
    if (this.#routes.size > this.#max) {
      const oldest = this.#routes.keys().next().value;
      if (oldest !== undefined) this.#routes.delete(oldest);
    }
  }

  /** The route of a run that just ended (forgotten from here on), or undefined. */
  take(event: RetrainingEvent): Route | undefined {
    if (event.type === 'retraining.started') return undefined;
    const route = this.#routes.get(event.runId);
    this.#routes.delete(event.runId);
    return route;
  }
}
