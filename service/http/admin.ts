/**
 * The admin side of the HTTP API: `POST /mscr/models/{m}/retrain` takes
 * `Authorization: Bearer <token>`, compared in constant time with the configured admin token.
 * No token configured: the endpoint is off (403), so a fresh install starts no training
 * runs for anyone who can reach it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { MscrError } from '../../connectors/errors.ts';
import type { RetrainRequest } from '../../connectors/sr/index.ts';

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;
const MAX_REASON = 500;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Throws 403 when no admin token is configured, 401 (with `WWW-Authenticate`) when the request's is missing or wrong. */
export function requireAdmin(req: Request, res: Response, adminToken: string): void {
  if (adminToken === '') {
    throw new MscrError('bad_request', 'retraining over HTTP is disabled: set MSCR_ADMIN_TOKEN', {
      status: 403,
    });
  }
  requireBearer(req, res, adminToken, 'admin');
}

/**
 * Throws 401 (with `WWW-Authenticate`) unless the request carries `Authorization: Bearer
 * <token>`; `what` names the token in the message (`admin`, `feedback`).
 */
export function requireBearer(req: Request, res: Response, token: string, what: string): void {
  const problem = bearerProblem(req.get('authorization'), token);
  if (problem === 'missing') {
    res.setHeader('WWW-Authenticate', 'Bearer realm="mscr"');
    throw new MscrError('bad_request', `send the ${what} token: Authorization: Bearer <token>`, {
      status: 401,
    });
  }
  if (problem === 'invalid') {
    res.setHeader('WWW-Authenticate', 'Bearer realm="mscr", error="invalid_token"');
    throw new MscrError('bad_request', `the ${what} token is not valid`, { status: 401 });
  }
}

/**
 * What is wrong with an `Authorization` value given the expected token: `missing` (no
 * `Bearer <token>`), `invalid` (another token), or undefined when it is the token. Shared by
 * HTTP and the broker adapters, which carry the same value in a header or user property.
 */
export function bearerProblem(
  authorization: string | undefined,
  token: string,
): 'missing' | 'invalid' | undefined {
  const match = BEARER.exec(authorization ?? '');
  if (match?.[1] === undefined) return 'missing';
  // Equal-length digests, so the comparison takes the same time whatever was sent.
  return timingSafeEqual(digest(match[1]), digest(token)) ? undefined : 'invalid';
}

/**
 * Throws 415 unless the body is declared `application/json` (parameters such as charset
 * allowed). A cross-site page can send `text/plain` or a form without a CORS preflight;
 * `application/json` always needs one, which this service never grants.
 */
export function requireJson(req: Request, what: string): void {
  const type = (req.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new MscrError(
      'bad_request',
      `${what} must be sent as Content-Type: application/json, got ${JSON.stringify((req.get('content-type') ?? '').slice(0, 60))}`,
      { status: 415 },
    );
  }
}

/** The optional body of a retrain request: `{}` or `{"reason": "..."}`. */
export function parseRetrainRequest(json: unknown): RetrainRequest {
  if (json === undefined) return {};
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new MscrError('bad_request', 'send a JSON object, {"reason": "..."}, or no body');
  }
  const extra = Object.keys(json).filter((key) => key !== 'reason');
  if (extra.length > 0) {
    throw new MscrError(
      'bad_request',
      `unknown field ${JSON.stringify(extra[0]?.slice(0, 40))}; a retrain request takes only "reason"`,
    );
  }
  const { reason } = json as { reason?: unknown };
  if (reason === undefined) return {};
  if (typeof reason !== 'string' || reason.length > MAX_REASON) {
    throw new MscrError(
      'bad_request',
      `reason must be a string of at most ${MAX_REASON} characters`,
    );
  }
  return { reason };
}

/** `?limit=N` of the runs list: 1 to 1000, default 20. */
export function parseLimit(value: unknown, fallback = 20): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'string' && /^[0-9]{1,4}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new MscrError(
      'bad_request',
      `limit must be an integer from 1 to 1000, got ${JSON.stringify(String(value).slice(0, 20))}`,
    );
  }
  return n;
}
