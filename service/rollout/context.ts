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

/**
 * Whether keys are carried at all. Once an AsyncLocalStorage has run, Node's promise hooks
 * cost every promise of the process a little (a few % of the main thread under inference
 * load), so keys are carried only from the first canary split on: before it, no route reads
 * them. A request already in flight when the first split starts is split at random.
 */
let carrying = false;

/** Called when a rollout that splits traffic becomes active in this process. */
export function carryCallers(): void {
  carrying = true;
}

export function withCaller<T>(key: string, run: () => T): T {
  return carrying ? callers.run(key, run) : run();
}

export function currentCaller(): string | undefined {
  return callers.getStore();
}
