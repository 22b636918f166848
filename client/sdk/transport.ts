/**
 * One HTTP exchange with timeouts and retries, on web-standard APIs only (fetch,
 * AbortController, Blob, TextEncoder), so the SDK runs in Node 20 and in a browser bundle.
 *
 * Retry policy (what is retried, and why):
 *
 * - A `503 Service Unavailable` answer is retried, for every request. mscr answers 503 before it
 *   runs a handler (model not loaded yet, not ready, draining for shutdown), so nothing was
 *   processed and even a non-idempotent POST (feedback, retrain) is safe to send again. The
 *   server's `Retry-After` (seconds) is honoured up to `maxRetryDelayMs`.
 * - A connection error is retried for idempotent requests: every GET, and the inference POSTs
 *   (predict, infer, classify, forecast), which compute a function of their input. (A repeated
 *   inference may count twice in the model's signals; that is the price of not failing.)
 *   Feedback and retrain are not idempotent: after a connection error they are retried only
 *   when the connection was refused (`ECONNREFUSED`: the request never left), which Node
 *   reports and browsers do not, so in a browser they are not retried at all.
 * - Nothing else is retried: no 4xx (the same request gets the same answer), no other 5xx (a
 *   500 is a bug, not a transient state), no timeout (a server too slow for `timeoutMs` stays
 *   slow; retrying only multiplies the wait: raise `timeoutMs` instead), and not a call the
 *   caller aborted.
 *
 * Backoff is exponential with jitter: attempt n waits `retryDelayMs * 2^(n-1)`, capped at
 * `maxRetryDelayMs`, times a random factor in [0.5, 1), so that clients which failed together
 * do not come back together. `timeoutMs` bounds each attempt (connect, headers and body).
 */
import { MscrClientError } from './errors.ts';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface TransportSettings {
  baseUrl: string;
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  fetch: FetchLike;
  headers: Record<string, string>;
  /** Source of jitter in [0, 1); a parameter so tests can pin it. */
  random: () => number;
}

/** Per-call settings that override the client's. */
export interface CallOptions {
  /** Cancels the call (and any wait between retries). */
  signal?: AbortSignal;
  timeoutMs?: number;
  retries?: number;
  headers?: Record<string, string>;
}

export type RequestBody = string | Uint8Array | ArrayBuffer | Blob;

export interface RequestSpec {
  method: 'GET' | 'POST';
  /** Path and query, starting with `/`. */
  path: string;
  body?: RequestBody;
  contentType?: string;
  headers?: Record<string, string>;
  /** Safe to repeat after a connection broke (see the retry policy above). */
  idempotent: boolean;
  /** Statuses that are answers rather than errors (e.g. 503 from `/v2/health/ready`). */
  accept?: readonly number[];
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  url: string;
  attempts: number;
}

const NEVER_SENT = new Set(['ECONNREFUSED']);

/** The system error code under a fetch failure (`TypeError: fetch failed` in Node). */
function networkCode(error: unknown): string | undefined {
  let cause: unknown = (error as { cause?: unknown })?.cause;
  for (let depth = 0; depth < 4 && cause !== undefined && cause !== null; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const errors = (cause as { errors?: unknown }).errors;
    cause = Array.isArray(errors) ? errors[0] : (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The innermost message under a fetch failure ("bad port", "other side closed"). */
function networkDetail(error: unknown): string | undefined {
  let detail: string | undefined;
  let cause: unknown = (error as { cause?: unknown })?.cause;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth++) {
    detail = cause.message || detail;
    cause = cause.cause;
  }
  return detail;
}

function describeNetwork(code: string | undefined, detail: string | undefined): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'the connection was reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'the connection timed out';
    case undefined:
      return detail ?? 'network error';
    default:
      return code;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The `{"error": "..."}` of an error answer, else a short piece of its text. */
export function serverErrorText(body: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(body).trim();
  if (text === '') return undefined;
  try {
    const json = JSON.parse(text) as unknown;
    if (json !== null && typeof json === 'object' && 'error' in json) {
      const error = (json as { error: unknown }).error;
      return typeof error === 'string' ? error : JSON.stringify(error);
    }
  } catch {
    // not JSON: a proxy's HTML page, say
  }
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** The delay before retry number `retry` (1-based), honouring a `Retry-After` in seconds. */
export function retryDelay(
  retry: number,
  settings: Pick<TransportSettings, 'retryDelayMs' | 'maxRetryDelayMs' | 'random'>,
  retryAfter?: string | null,
): number {
  const exponential = Math.min(
    settings.maxRetryDelayMs,
    settings.retryDelayMs * 2 ** Math.max(0, retry - 1),
  );
  let delay = exponential * (0.5 + settings.random() / 2);
  const asked = retryAfter != null && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : 0;
  if (asked > delay) delay = Math.min(asked, settings.maxRetryDelayMs);
  return Math.round(delay);
}

type Attempt =
  | { ok: true; response: RawResponse }
  | { ok: false; error: MscrClientError; retryable: boolean; retryAfter?: string | null };

async function attemptOnce(
  spec: RequestSpec,
  settings: TransportSettings,
  options: CallOptions,
  attempt: number,
): Promise<Attempt> {
  const url = `${settings.baseUrl}${spec.path}`;
  const timeoutMs = options.timeoutMs ?? settings.timeoutMs;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onCallerAbort = () => controller.abort();
  options.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const where = { method: spec.method, url, attempts: attempt };
  try {
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...settings.headers,
      ...options.headers,
      ...spec.headers,
    };
    if (spec.contentType !== undefined) headers['content-type'] = spec.contentType;
    let response: Response;
    try {
      response = await settings.fetch(url, {
        method: spec.method,
        headers,
        ...(spec.body !== undefined ? { body: spec.body as NonNullable<RequestInit['body']> } : {}),
        signal: controller.signal,
      });
    } catch (error) {
      if (timedOut) {
        return {
          ok: false,
          retryable: false,
          error: new MscrClientError(
            'timeout',
            `no answer from ${spec.method} ${url} within ${timeoutMs} ms`,
            { ...where, cause: error },
          ),
        };
      }
      if (options.signal?.aborted) {
        return {
          ok: false,
          retryable: false,
          error: new MscrClientError('aborted', `${spec.method} ${url} was cancelled`, {
            ...where,
            cause: error,
          }),
        };
      }
      const code = networkCode(error);
      return {
        ok: false,
        retryable: spec.idempotent || (code !== undefined && NEVER_SENT.has(code)),
        error: new MscrClientError(
          'network',
          `cannot reach the service at ${settings.baseUrl} (${describeNetwork(code, networkDetail(error))}): is it running, and is the URL right?`,
          { ...where, cause: error },
        ),
      };
    }
    let body: Uint8Array;
    try {
      body = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      const kind = timedOut ? 'timeout' : options.signal?.aborted ? 'aborted' : 'network';
      return {
        ok: false,
        retryable: kind === 'network' && spec.idempotent,
        error: new MscrClientError(
          kind,
          kind === 'timeout'
            ? `the answer of ${spec.method} ${url} did not arrive within ${timeoutMs} ms`
            : `the answer of ${spec.method} ${url} broke off: ${(error as Error).message}`,
          { ...where, httpStatus: response.status, cause: error },
        ),
      };
    }
    const accepted = response.ok || (spec.accept?.includes(response.status) ?? false);
    if (accepted) {
      return {
        ok: true,
        response: {
          status: response.status,
          headers: response.headers,
          body,
          url,
          attempts: attempt,
        },
      };
    }
    const serverMessage = serverErrorText(body);
    const statusText = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
    return {
      ok: false,
      retryable: response.status === 503,
      retryAfter: response.headers.get('retry-after'),
      error: new MscrClientError(
        'http',
        `${spec.method} ${url} answered ${statusText}${serverMessage ? `: ${serverMessage}` : ''}`,
        { ...where, httpStatus: response.status, ...(serverMessage ? { serverMessage } : {}) },
      ),
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onCallerAbort);
  }
}

/** Sends a request with the client's timeout and retry policy; errors are `MscrClientError`s. */
export async function send(
  spec: RequestSpec,
  settings: TransportSettings,
  options: CallOptions = {},
): Promise<RawResponse> {
  const retries = options.retries ?? settings.retries;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) {
      throw new MscrClientError('aborted', `${spec.method} ${spec.path} was cancelled`, {
        method: spec.method,
        url: `${settings.baseUrl}${spec.path}`,
        attempts: attempt - 1,
      });
    }
    const outcome = await attemptOnce(spec, settings, options, attempt);
    if (outcome.ok) return outcome.response;
    if (!outcome.retryable || attempt > retries) {
      if (attempt > 1 && outcome.retryable) {
        // Say that the failure persisted, so nobody retries by hand in a tight loop.
        throw new MscrClientError(
          outcome.error.kind,
          `${outcome.error.message} (after ${attempt} attempts)`,
          {
            httpStatus: outcome.error.httpStatus,
            ...(outcome.error.serverMessage !== undefined
              ? { serverMessage: outcome.error.serverMessage }
              : {}),
            method: outcome.error.method,
            url: outcome.error.url,
            attempts: attempt,
            cause: outcome.error.cause,
          },
        );
      }
      throw outcome.error;
    }
    try {
      await sleep(retryDelay(attempt, settings, outcome.retryAfter), options.signal);
    } catch (reason) {
      throw new MscrClientError('aborted', `${spec.method} ${spec.path} was cancelled`, {
        method: spec.method,
        url: `${settings.baseUrl}${spec.path}`,
        attempts: attempt,
        cause: reason,
      });
    }
  }
}

/** The JSON of an answer, or a `protocol` error naming the call. */
export function parseJson<T>(response: RawResponse, method: string): T {
  const text = new TextDecoder().decode(response.body);
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new MscrClientError(
      'protocol',
      `${method} ${response.url} answered ${response.status} with a body that is not JSON: ${text.slice(0, 120)}`,
      {
        method,
        url: response.url,
        httpStatus: response.status,
        attempts: response.attempts,
        cause: error,
      },
    );
  }
}
