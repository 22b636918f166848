/**
 * The one error class of mscr. Every domain error carries a stable `code` and the HTTP
 * status it maps to, so the service maps errors to responses in one place and the CLI maps
 * them to exit codes in one place (KServe's model server does the same with its exceptions).
 */
export type ErrorCode =
  | 'bad_request' // malformed input from a caller
  | 'bad_data' // a data file that cannot be used for training or evaluation
  | 'not_found' // unknown model, version, alias or file
  | 'conflict' // a concurrent writer won (version claim, alias race)
  | 'integrity' // a checksum or manifest that does not match its files
  | 'payload_too_large'
  | 'unavailable' // a store or model that cannot answer now; retrying may help
  | 'config' // invalid configuration or command-line arguments
  | 'internal';

const statusByCode: Record<ErrorCode, number> = {
  bad_request: 400,
  bad_data: 400,
  not_found: 404,
  conflict: 409,
  integrity: 500,
  payload_too_large: 413,
  unavailable: 503,
  config: 400,
  internal: 500,
};

export class MscrError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MscrError';
    this.code = code;
    this.status = options?.status ?? statusByCode[code];
  }
}

export function isMscrError(error: unknown, code?: ErrorCode): error is MscrError {
  return error instanceof MscrError && (code === undefined || error.code === code);
}

/** Anything thrown as an `MscrError`: itself, or an `internal` one carrying its message. */
export function asMscrError(error: unknown): MscrError {
  return isMscrError(error) ? error : new MscrError('internal', errorMessage(error));
}

/** A readable message from anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
