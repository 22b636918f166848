/**
 * What every gRPC call gets, whatever its service: a request id (the caller's
 * `x-request-id` metadata when it is sane, else a new one; sent back as initial metadata),
 * the in-flight gauge, the request counter and latency with protocol `grpc` and the gRPC
 * status name, one access log line, and errors mapped in one place (status.ts).
 */
import { randomUUID } from 'node:crypto';
import {
  Metadata,
  status as Status,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedHandleCall,
} from '@grpc/grpc-js';
import { isMscrError } from '../../connectors/errors.ts';
import type { Logger } from '../observability/log.ts';
import type { ServiceMetrics } from '../observability/metrics.ts';
import { grpcStatusOf, statusName, toServiceError } from './status.ts';
import { CALLER_HEADER, callerKeyOf, withCaller } from '../rollout/context.ts';

/** Where a handler notes what the metrics and the log line name. */
export interface CallContext {
  requestId: string;
  model: string;
  version: string;
}

export interface CallOptions {
  metrics: ServiceMetrics;
  logger: Logger;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function requestIdOf(metadata: Metadata): string {
  const given = metadata.get('x-request-id')[0];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Wraps a handler as a unary gRPC method. `probe` methods (health, liveness, readiness) are
 * not counted as requests and log at debug, as the HTTP probes are.
 */
export function unary<Req, Res>(
  options: CallOptions,
  method: string,
  handler: (request: Req, ctx: CallContext) => Promise<Res> | Res,
  probe = false,
): UntypedHandleCall {
  const { metrics, logger } = options;
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const started = process.hrtime.bigint();
    const ctx: CallContext = { requestId: requestIdOf(call.metadata), model: '', version: '' };
    const initial = new Metadata();
    initial.set('x-request-id', ctx.requestId);
    call.sendMetadata(initial);
    metrics.inFlight.inc({ protocol: 'grpc' });
    const finish = (code: Status, error?: string) => {
      metrics.inFlight.dec({ protocol: 'grpc' });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = {
        model: ctx.model,
        version: ctx.version,
        protocol: 'grpc' as const,
        status: statusName(code),
      };
      if (!probe) {
        metrics.requests.inc(labels);
        metrics.requestDuration.observe(labels, seconds);
      }
      const fields = {
        requestId: ctx.requestId,
        method,
        status: statusName(code),
        ms: Math.round(seconds * 1e4) / 10,
        ...(error !== undefined ? { error } : {}),
      };
      if (code === Status.INTERNAL || code === Status.UNKNOWN)
        logger.error('grpc call failed', fields);
      else if (probe) logger.debug('grpc call', fields);
      else logger.info('grpc call', fields);
    };
    Promise.resolve()
      .then(() => {
        // Rollouts: the canary split sticks to the caller's key (x-mscr-caller), else the request id.
        const caller = callerKeyOf(call.metadata.get(CALLER_HEADER)[0]?.toString(), ctx.requestId);
        return withCaller(caller, () => handler(call.request, ctx));
      })
      .then(
        (response) => {
          finish(Status.OK);
          callback(null, response);
        },
        (error: unknown) => {
          const { code, details } = grpcStatusOf(error);
          if (code === Status.INTERNAL && !isMscrError(error)) {
            logger.error('unexpected error', {
              requestId: ctx.requestId,
              error: (error as Error)?.stack ?? String(error),
            });
          }
          finish(code, details);
          callback(toServiceError(error, ctx.requestId));
        },
      );
  };
}
