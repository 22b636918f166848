/**
 * Any thrown error -> the `{"error": "..."}` body and status every protocol answers with. An
 * `MscrError` keeps its status and message; anything else is a bug or a crash: 500 with a
 * generic message, so internals (paths, stack traces) never reach a client.
 */
import { isMscrError } from '../../connectors/errors.ts';
import type { ErrorResponse } from '../../connectors/sc/mscr.ts';

export function toErrorResponse(error: unknown): { status: number; body: ErrorResponse } {
  if (isMscrError(error)) return { status: error.status, body: { error: error.message } };
  return { status: 500, body: { error: 'internal server error' } };
}
