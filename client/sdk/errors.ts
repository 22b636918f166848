/**
 * The SDK's one error type. It is an `MscrError`, so its `code` says what kind of failure it
 * is in mscr's own terms (the CLI maps that to an exit code in `cli/exit-codes.ts`, as for
 * every other error), and it adds what happened on the wire: the HTTP status (0 when no answer
 * came), the server's own `{"error": "..."}` message, the method and URL, and how many
 * attempts were made.
 */
import { MscrError, type ErrorCode } from '../../connectors/errors.ts';

/** How a call failed: the server answered with an error, or no usable answer came. */
export type ClientErrorKind =
  | 'http' // the server answered with a 4xx or 5xx status
  | 'network' // no connection, or it broke before an answer
  | 'timeout' // no answer within `timeoutMs`
  | 'aborted' // the caller's AbortSignal fired
  | 'protocol' // an answer that is not what the contract says (e.g. not JSON)
  | 'input'; // the SDK refused the arguments before sending anything

/** The mscr error code of an HTTP status, so that an HTTP failure maps to the right exit code. */
export function errorCodeOfStatus(status: number): ErrorCode {
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 413) return 'payload_too_large';
  // A wrong or missing admin token is a setting to fix, like any other configuration.
  if (status === 401 || status === 403) return 'config';
  if (status === 429 || status === 502 || status === 503 || status === 504) return 'unavailable';
  if (status >= 400 && status < 500) return 'bad_request';
  return 'internal';
}

export class MscrClientError extends MscrError {
  override readonly name = 'MscrClientError';
  readonly kind: ClientErrorKind;
  /** The HTTP status of the answer; 0 when no answer came (network, timeout, aborted, input). */
  readonly httpStatus: number;
  /** The server's `{"error": "..."}` text, when it sent one. */
  readonly serverMessage: string | undefined;
  readonly method: string;
  readonly url: string;
  /** Requests sent, retries included (0 when the SDK refused the arguments). */
  readonly attempts: number;

  constructor(
    kind: ClientErrorKind,
    message: string,
    details: {
      httpStatus?: number;
      serverMessage?: string;
      method?: string;
      url?: string;
      attempts?: number;
      cause?: unknown;
    } = {},
  ) {
    const httpStatus = details.httpStatus ?? 0;
    const code: ErrorCode =
      kind === 'http'
        ? errorCodeOfStatus(httpStatus)
        : kind === 'input'
          ? 'bad_request'
          : kind === 'protocol'
            ? 'internal'
            : 'unavailable';
    super(code, message, {
      ...(details.cause !== undefined ? { cause: details.cause } : {}),
      ...(httpStatus > 0 ? { status: httpStatus } : {}),
    });
    this.kind = kind;
    this.httpStatus = httpStatus;
    this.serverMessage = details.serverMessage;
    this.method = details.method ?? '';
    this.url = details.url ?? '';
    this.attempts = details.attempts ?? 0;
  }
}

export function isMscrClientError(error: unknown): error is MscrClientError {
  return error instanceof MscrClientError;
}
