/**
 * What every HTTP request gets, whichever way it is served (the Express app or the inference
 * fast lane): a request id, the API's safety headers, the in-flight gauge, the latency and
 * status metrics, and one access log line when it closes.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Route } from '../../connectors/sc/index.ts';
import type { DataPlane } from '../dataplane/index.ts';
import type { Logger } from '../observability/log.ts';
import { LabelCap, type Protocol, type ServiceMetrics } from '../observability/metrics.ts';

/** Distinct model label values on the request metrics; later models are counted as `other`. */
const MAX_MODEL_LABELS = 500;

/** One request as the metrics and the access log see it; handlers fill in version and error. */
export interface RequestRecord {
  readonly id: string;
  readonly route: Route | undefined;
  /** The version that answered (`''`: none), a label of the request metrics. */
  version: string;
  /** The whole error message (the caller may have seen a redacted one). */
  error?: string;
}

export type ObserveRequest = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  route: Route | undefined,
) => RequestRecord;

export function protocolOf(route: Route | undefined): Protocol {
  if (route === undefined) return 'other';
  if (route.api !== 'mscr') return route.api;
  if (route.kind === 'tabular') return 'tabular';
  if (route.kind === 'classify' || route.kind === 'detect') return 'image';
  return route.kind === 'forecast' ? 'csv' : 'sr';
}

const SANE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The request id: the caller's `X-Request-Id` when it is sane, else a new one. */
export function requestIdOf(given: string | string[] | undefined): string {
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** A path as logs and messages show it: long ones cut (a path is the caller's text). */
export function shownPath(path: string, max = 256): string {
  return path.length > max ? `${path.slice(0, max)}...` : path;
}

export function createRequestObserver(options: {
  dataPlane: DataPlane;
  metrics: ServiceMetrics;
  logger: Logger;
}): ObserveRequest {
  const { dataPlane, metrics, logger } = options;
  // The model label comes from the path: a model this service does not know is `unknown`,
  // and the known ones are capped too (a store can hold any number of models).
  const modelLabels = new LabelCap(MAX_MODEL_LABELS);
  return (req, res, path, route) => {
    const started = process.hrtime.bigint();
    // While draining, tell clients to open their next request elsewhere.
    if (dataPlane.draining) res.setHeader('Connection', 'close');
    const record: RequestRecord = {
      id: requestIdOf(req.headers['x-request-id']),
      route,
      version: '',
    };
    res.setHeader('X-Request-Id', record.id);
    // API answers are data, never a document to sniff, render or frame.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    const protocol = protocolOf(route);
    metrics.inFlight.inc({ protocol });
    res.on('close', () => {
      metrics.inFlight.dec({ protocol });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const model =
        route && 'model' in route
          ? dataPlane.knows(route.model)
            ? modelLabels.of(route.model)
            : 'unknown'
          : '';
      const labels = { model, version: record.version, protocol, status: String(res.statusCode) };
      if (route && route.kind !== 'live' && route.kind !== 'ready') {
        metrics.requests.inc(labels);
        metrics.requestDuration.observe(labels, seconds);
      }
      // Probes answer 503 while not ready: that is their answer, not a failure.
      const probe =
        route?.kind === 'live' ||
        route?.kind === 'ready' ||
        route?.kind === 'model-ready' ||
        path === '/metrics' ||
        path === '/';
      const level =
        res.statusCode >= 500 && !(probe && res.statusCode === 503)
          ? 'error'
          : probe
            ? 'debug'
            : 'info';
      const fields = {
        requestId: record.id,
        method: req.method,
        path: shownPath(path),
        status: res.statusCode,
        ms: Math.round(seconds * 1e4) / 10,
        ...(record.error ? { error: record.error } : {}),
      };
      if (level === 'error') logger.error('request failed', fields);
      else logger[level]('request', fields);
    });
    return record;
  };
}
