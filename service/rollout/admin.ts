/**
 * The rollout actions on the admin API, behind the admin token (as `mscr rollout` offers
 * them on the store):
 *
 *     GET  /mscr/models/{m}/rollout           the state, the last decisions, this replica's live figures
 *     POST /mscr/models/{m}/rollout/start     {"mode": "canary", "weight": 10, "steps": [...], ...}
 *     POST /mscr/models/{m}/rollout/promote
 *     POST /mscr/models/{m}/rollout/abort
 *
 * The token is checked before anything else is looked at (401 without it, 403 when the
 * service has none); bad input is a 400 with `{"error"}`, an unknown model a 404, a second
 * start or a promote of nothing a 409. Errors go to the app's one error handler.
 */
import type { NextFunction, Request, Response } from 'express';
import { MscrError } from '../../connectors/errors.ts';
import { validateModelName } from '../../connectors/ms/manifest.ts';
import { requireBearer, requireJson } from '../http/admin.ts';
import { parseJsonBody } from '../http/body.ts';
import {
  abortRollout,
  promoteRollout,
  rolloutStatus,
  startRollout,
  type RolloutDeps,
  type StartRequest,
} from '../../connectors/store/rollout-actions.ts';
import { analyse } from './analyser.ts';
import type { RolloutRouter } from './router.ts';

export interface RolloutAdminOptions extends RolloutDeps {
  adminToken: string;
  router: RolloutRouter;
  /** Whether the service knows the model (configured, or in the store). */
  knows: (model: string) => boolean;
  /** After a change: poll the store now, so this replica follows at once. */
  onChange?: () => void;
}

const PATH = /^\/mscr\/models\/([^/]{1,256})\/rollout(?:\/([a-z]{1,16}))?\/?$/;
const START_FIELDS = new Set([
  'mode',
  'weight',
  'candidate',
  'stable',
  'steps',
  'stepEverySeconds',
  'thresholds',
]);

function startRequestOf(model: string, json: unknown): StartRequest {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new MscrError('bad_request', 'send a JSON object: {"mode": "canary" | "shadow", ...}');
  const body = json as Record<string, unknown>;
  const unknown = Object.keys(body).find((key) => !START_FIELDS.has(key));
  if (unknown !== undefined) {
    throw new MscrError(
      'bad_request',
      `unknown field ${JSON.stringify(unknown.slice(0, 40))}; a rollout start takes ${[...START_FIELDS].join(', ')}`,
    );
  }
  const { mode, weight, candidate, stable, steps, stepEverySeconds, thresholds } = body;
  if (mode !== 'canary' && mode !== 'shadow')
    throw new MscrError('bad_request', 'mode must be "canary" or "shadow"');
  if (weight !== undefined && typeof weight !== 'number')
    throw new MscrError('bad_request', 'weight must be a number (percent)');
  if (
    stepEverySeconds !== undefined &&
    (typeof stepEverySeconds !== 'number' ||
      !Number.isFinite(stepEverySeconds) ||
      stepEverySeconds < 0 ||
      stepEverySeconds > 7 * 86_400)
  )
    throw new MscrError('bad_request', 'stepEverySeconds must be a number from 0 to 604800');
  return {
    model,
    mode,
    ...(weight !== undefined ? { weight } : {}),
    ...(candidate !== undefined ? { candidate: candidate as number } : {}),
    ...(stable !== undefined ? { stable: stable as number } : {}),
    ...(steps !== undefined ? { steps: steps as number[] } : {}),
    ...(stepEverySeconds !== undefined ? { stepEveryMs: stepEverySeconds * 1000 } : {}),
    ...(thresholds !== undefined ? { thresholds } : {}),
  };
}

/** The live figures of this replica's window, judged as the controller would now. */
function liveFigures(router: RolloutRouter, model: string) {
  const state = router.state(model);
  const window = router.window(model);
  if (state === undefined || window === undefined) return null;
  return analyse({
    mode: state.mode,
    steps: state.steps,
    step: state.step,
    stepElapsedMs: Date.now() - Date.parse(state.stepStartedAt),
    stepEveryMs: state.stepEveryMs,
    thresholds: state.thresholds,
    stable: window.side('stable'),
    candidate: window.side('candidate'),
    ...(state.mode === 'shadow' ? { shadow: { ...window.shadow } } : {}),
  });
}

/** The Express middleware of the rollout admin routes; other paths pass through. */
export function rolloutAdminRoutes(options: RolloutAdminOptions) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const match = PATH.exec(req.path);
    if (match === null) return next();
    try {
      if (options.adminToken === '') {
        throw new MscrError('bad_request', 'the admin API is disabled: set MSCR_ADMIN_TOKEN', {
          status: 403,
        });
      }
      requireBearer(req, res, options.adminToken, 'admin');
      let model: string;
      try {
        model = validateModelName(decodeURIComponent(match[1] ?? ''));
      } catch (error) {
        throw new MscrError('bad_request', (error as Error).message);
      }
      const action = match[2];
      const method = action === undefined ? 'GET' : 'POST';
      if (action !== undefined && !['start', 'promote', 'abort'].includes(action))
        throw new MscrError('not_found', 'rollout actions are start, promote and abort');
      if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) {
        res.setHeader('Allow', method);
        throw new MscrError('bad_request', `${req.path} takes ${method}`, { status: 405 });
      }
      if (!options.knows(model)) throw new MscrError('not_found', `unknown model ${model}`);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let result: unknown;
      switch (action) {
        case undefined:
          result = {
            ...(await rolloutStatus(options, model)),
            live: liveFigures(options.router, model),
          };
          break;
        case 'start':
          requireJson(req, 'a rollout start');
          result = await startRollout(options, startRequestOf(model, parseJsonBody(body)), 'admin');
          res.status(201);
          break;
        case 'promote':
          result = await promoteRollout(options, model, 'admin');
          break;
        case 'abort':
          result = await abortRollout(options, model, 'admin');
          break;
      }
      if (action !== undefined) options.onChange?.();
      res.json(result);
    } catch (error) {
      next(error);
    }
  };
}
