/**
 * Exit codes an operator (or a Kubernetes CronJob) can act on, mapped from the error's code
 * in this one place.
 */
import { MscrError, type ErrorCode } from '../connectors/errors.ts';

export const EXIT = {
  ok: 0,
  failed: 1, // unexpected failure: a bug or a crash in a dependency
  usage: 2, // bad flags or configuration: fix the command line
  badData: 3, // the data cannot be used: fix the data
  notFound: 4, // unknown model, version, alias or file
  unavailable: 5, // a store or service did not answer: retry later
  integrity: 6, // a published version is corrupt: republish or roll back
  conflict: 7, // another writer won a race: retry
} as const;

const exitByCode: Record<ErrorCode, number> = {
  bad_request: EXIT.usage,
  config: EXIT.usage,
  bad_data: EXIT.badData,
  not_found: EXIT.notFound,
  unavailable: EXIT.unavailable,
  integrity: EXIT.integrity,
  conflict: EXIT.conflict,
  payload_too_large: EXIT.usage,
  internal: EXIT.failed,
};

export function exitCodeFor(error: unknown): number {
  return error instanceof MscrError ? exitByCode[error.code] : EXIT.failed;
}
