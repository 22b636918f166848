/**
 * The caller key of the request being served, carried through the async calls of one
 * request (AsyncLocalStorage), so the data plane's canary split needs no new parameter on
 * every protocol adapter. Set by the HTTP dispatcher and the gRPC call wrapper; absent (a
 * broker message, a test calling the data plane directly) the split is random per request.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const callers = new AsyncLocalStorage<string>();

/** The header (and gRPC metadata key) a caller sets to stick to one version. */
export const CALLER_HEADER = 'x-mscr-caller';

/** Caller keys that are used as given; anything else falls back to the request id. */
const SANE = /^[\w.:@/+=-]{1,128}$/;

/** The key a request is split by: the caller header when it is sane, else the request id. */
export function callerKeyOf(header: string | undefined, requestId: string): string {
  return header !== undefined && SANE.test(header) ? header : requestId;
}

export function withCaller<T>(key: string, run: () => T): T {
  return callers.run(key, run);
}

export function currentCaller(): string | undefined {
  return callers.getStore();
}
