/**
 * The one place an error becomes an HTTP answer, for the Express app and the inference fast
 * lane alike: body-reading failures get their 4xx, domain errors their own status, anything
 * else is a 500 that says nothing of the inside; messages lose absolute paths.
 */
import type { ServerResponse } from 'node:http';
import { MscrError } from '../../connectors/errors.ts';
import type { Logger } from '../observability/log.ts';
import { RateLimited } from '../monitoring/feedback-limits.ts';
import { toErrorResponse } from '../protocols/index.ts';

/**
 * Absolute paths and `file://` URIs in a message -> `<path>`: a store's or a data file's
 * location on this machine is no business of an anonymous caller (the log keeps them).
 */
export function redactPaths(message: string): string {
  return message
    .replace(/file:\/\/[^\s"',;)]*/g, 'file://<path>')
    .replace(/(^|[\s"'(=])\/(?:[\w.@+-]+\/)+[\w.@+-]*/g, '$1<path>');
}

/** An error of zlib (`Z_DATA_ERROR`, `Z_BUF_ERROR`, ...) or brotli (`ERR__ERROR_FORMAT_...`). */
function isDecompressionError(error: unknown): boolean {
  const { code, errno } = (error ?? {}) as { code?: unknown; errno?: unknown };
  return (
    typeof errno === 'number' &&
    typeof code === 'string' &&
    (code.startsWith('Z_') || code.startsWith('ERR__ERROR_'))
  );
}

/** The request body is larger than the service takes. */
export function bodyTooLarge(maxBodyBytes: number): MscrError {
  return new MscrError(
    'payload_too_large',
    `the request body is larger than the limit of ${maxBodyBytes} bytes`,
  );
}

/** The client went away (or the body stopped) before the body was complete. */
export function bodyAborted(): MscrError {
  return new MscrError(
    'bad_request',
    'the client closed the connection before the body was complete',
  );
}

/** Errors of the body reader (raw-body's `type`s) and of decompression -> domain errors. */
function domainErrorOf(error: unknown, maxBodyBytes: number): unknown {
  const bodyError = error as { type?: string; status?: number };
  if (bodyError.type === 'entity.too.large') return bodyTooLarge(maxBodyBytes);
  // zlib or brotli failed on a body declared gzip, deflate or br: the body is wrong.
  if (isDecompressionError(error))
    return new MscrError(
      'bad_request',
      'the request body is not valid data for its Content-Encoding',
    );
  if (bodyError.type === 'encoding.unsupported') {
    return new MscrError(
      'bad_request',
      'the request body has a Content-Encoding this server cannot decode: send it uncompressed, or with gzip, deflate or br',
      { status: 415 },
    );
  }
  if (bodyError.type === 'request.aborted') return bodyAborted();
  if (
    typeof bodyError.type === 'string' &&
    typeof bodyError.status === 'number' &&
    bodyError.status < 500
  )
    return new MscrError('bad_request', `unreadable request body: ${(error as Error).message}`);
  return error;
}

export interface HttpError {
  status: number;
  /** What the caller gets: `{"error": ...}` without absolute paths. */
  body: { error: string };
  /** The whole message, for the access log. */
  message: string;
  /** Seconds for `Retry-After` (rate limits). */
  retryAfterSeconds?: number;
  /** Not a domain error: the log should keep its stack. */
  unexpected: boolean;
}

export function httpErrorOf(error: unknown, maxBodyBytes: number): HttpError {
  const mapped = domainErrorOf(error, maxBodyBytes);
  const { status, body } = toErrorResponse(mapped);
  return {
    status,
    body: { error: redactPaths(body.error) },
    message: body.error,
    ...(mapped instanceof RateLimited ? { retryAfterSeconds: mapped.retryAfterSeconds } : {}),
    unexpected: status >= 500 && !(mapped instanceof MscrError),
  };
}

/**
 * Answers `error` as `{"error": ...}` with its status (or just ends a response already
 * started), notes the whole message for the access log, and logs an unexpected one's stack.
 */
export function writeHttpError(
  res: ServerResponse,
  error: unknown,
  options: {
    maxBodyBytes: number;
    logger: Logger;
    record: { id: string; error?: string } | undefined;
  },
): void {
  const answer = httpErrorOf(error, options.maxBodyBytes);
  if (options.record) options.record.error = answer.message;
  if (answer.unexpected) {
    options.logger.error('unexpected error', {
      requestId: options.record?.id,
      error: (error as Error)?.stack ?? String(error),
    });
  }
  if (res.headersSent) {
    res.end();
    return;
  }
  if (answer.retryAfterSeconds !== undefined)
    res.setHeader('Retry-After', String(answer.retryAfterSeconds));
  // Exactly `application/json`: the kserve SDK shows an error's text only for that type.
  res.statusCode = answer.status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(answer.body));
}
