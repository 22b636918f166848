/**
 * The inference fast lane: `POST .../infer` (Open Inference V2) and `POST ...:predict` (V1)
 * served straight from node:http. Express's router, its request and response decoration and
 * its body parser cost more main-thread time per request than a small model's inference
 * (a CPU profile under load put them at a quarter of the main thread), and the main thread
 * is what limits a single service's requests per second.
 *
 * Same answers as the Express app, by construction: the same protocol functions
 * (inference.ts), the same request observer (ids, headers, metrics, access log) and the same
 * error mapping. Anything unusual goes to the Express app instead: another method (405
 * there), a compressed body, a path that is not an inference route or is malformed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { matchRoute, type Route } from '../../connectors/sc/index.ts';
import type { Logger } from '../observability/log.ts';
import { HEADER_LENGTH } from '../protocols/index.ts';
import { CALLER_HEADER, callerKeyOf, withCaller } from '../rollout/context.ts';
import { bodyAborted, bodyTooLarge, writeHttpError } from './error-response.ts';
import {
  answerV1Predict,
  answerV2Infer,
  writeAnswer,
  type Answer,
  type InferenceContext,
} from './inference.ts';
import type { ObserveRequest, RequestRecord } from './observe.ts';

export interface FastLaneOptions {
  context: InferenceContext;
  observe: ObserveRequest;
  maxBodyBytes: number;
  logger: Logger;
}

/** Serves the request and returns true, or returns false and leaves it untouched. */
export type FastLane = (req: IncomingMessage, res: ServerResponse) => boolean;

type InferenceRoute = Extract<Route, { model: string }> & { kind: 'infer' | 'predict' };

function isInferenceRoute(route: Route | undefined): route is InferenceRoute {
  return route?.kind === 'infer' || route?.kind === 'predict';
}

/**
 * The inference route this lane takes a request for, with its path, or undefined: POST, an
 * infer or predict path that parses, and a body that needs no inflating (cheap checks first).
 */
export function fastLaneRoute(
  method: string | undefined,
  url: string,
  contentEncoding: string | undefined,
): { path: string; route: InferenceRoute } | undefined {
  if (method !== 'POST') return undefined;
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  const v2 = path.startsWith('/v2/models/') && /\/infer\/?$/.test(path);
  const v1 = path.startsWith('/v1/models/') && path.endsWith(':predict');
  if (!v2 && !v1) return undefined;
  // A compressed body is Express's (its reader inflates gzip, deflate and br).
  if (contentEncoding !== undefined && contentEncoding.toLowerCase() !== 'identity')
    return undefined;
  let route: Route | undefined;
  try {
    route = matchRoute(path);
  } catch {
    return undefined; // a malformed name or version: the Express app words the 400
  }
  return isInferenceRoute(route) ? { path, route } : undefined;
}

export function createInferenceFastLane(options: FastLaneOptions): FastLane {
  const { context, observe, maxBodyBytes, logger } = options;

  const fail = (res: ServerResponse, record: RequestRecord, error: unknown) =>
    writeHttpError(res, error, { maxBodyBytes, logger, record });

  const answer = (
    req: IncomingMessage,
    route: InferenceRoute,
    record: RequestRecord,
    body: Buffer,
  ) => {
    const header = (name: string) => {
      const value = req.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    // Rollouts: a canary split by caller key, carried to the data plane (see rollout/context.ts).
    const caller = callerKeyOf(header(CALLER_HEADER), record.id);
    return withCaller(caller, (): Promise<Answer> =>
      route.kind === 'infer'
        ? answerV2Infer(context, route, body, header(HEADER_LENGTH), record.id)
        : answerV1Predict(context, route, body),
    );
  };

  return (req, res) => {
    const matched = fastLaneRoute(req.method, req.url ?? '', req.headers['content-encoding']);
    if (matched === undefined) return false;
    const { path, route } = matched;
    const record = observe(req, res, path, route);

    const declared = Number(req.headers['content-length']);
    if (declared > maxBodyBytes) {
      // The body is not read: the connection cannot carry another request after this answer.
      res.setHeader('Connection', 'close');
      fail(res, record, bodyTooLarge(maxBodyBytes));
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) {
        chunks.push(chunk);
        return;
      }
      done = true;
      req.off('data', onData);
      req.pause();
      res.setHeader('Connection', 'close');
      fail(res, record, bodyTooLarge(maxBodyBytes));
    };
    req.on('data', onData);
    const aborted = () => {
      // The client went away mid-body; the answer goes nowhere but the metrics and log see it.
      if (done) return;
      done = true;
      fail(res, record, bodyAborted());
    };
    req.on('error', aborted);
    req.on('close', () => {
      if (!req.complete) aborted();
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      answer(req, route, record, body).then(
        (answered) => {
          record.version = String(answered.version);
          writeAnswer(res, answered);
        },
        (error: unknown) => fail(res, record, error),
      );
    });
    return true;
  };
}
