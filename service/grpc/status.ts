/**
 * The one place gRPC status codes come from: the one error type, `MscrError`, mapped by
 * its code (as service/protocols/errors.ts maps it to HTTP statuses). Anything else is a
 * bug or a crash: INTERNAL with a generic message, so internals never reach a client.
 */
import { status as Status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { isMscrError, type ErrorCode } from '../../connectors/errors.ts';

const CODES: Record<ErrorCode, Status> = {
  bad_request: Status.INVALID_ARGUMENT,
  bad_data: Status.INVALID_ARGUMENT,
  config: Status.INVALID_ARGUMENT,
  not_found: Status.NOT_FOUND,
  conflict: Status.ABORTED,
  integrity: Status.INTERNAL,
  payload_too_large: Status.RESOURCE_EXHAUSTED,
  unavailable: Status.UNAVAILABLE,
  internal: Status.INTERNAL,
};

/** The gRPC status of anything thrown, and the message a client may see. */
export function grpcStatusOf(error: unknown): { code: Status; details: string } {
  if (isMscrError(error)) {
    // 501 is how an MscrError says "not implemented here" (e.g. retraining not set up).
    const code = error.status === 501 ? Status.UNIMPLEMENTED : CODES[error.code];
    return { code, details: error.message };
  }
  return { code: Status.INTERNAL, details: 'internal server error' };
}

export function toServiceError(error: unknown, requestId: string): Partial<ServiceError> {
  const { code, details } = grpcStatusOf(error);
  const metadata = new Metadata();
  metadata.set('x-request-id', requestId);
  return { code, details, metadata };
}

/** `OK`, `INVALID_ARGUMENT`, ...: the metrics' status label for gRPC calls. */
export function statusName(code: Status): string {
  return Status[code] ?? String(code);
}
