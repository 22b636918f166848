/**
 * Training and evaluation as a service, behind the admin token:
 *
 *     POST /mscr/train                    start a training run (several candidates with a
 *                                         search), through the retraining launcher: a child
 *                                         job here, or a Kubernetes Job in a cluster
 *     GET  /mscr/train/{id}               its run record as JSON, or with
 *                                         `Accept: text/event-stream` its progress as SSE
 *     POST /mscr/models/{m}/evaluate      score a published version on a data URI, in the
 *                                         evaluator's child process (never on this event loop)
 *
 * The record and its progress come from the run store (what the job writes), not from this
 * process, so any replica answers for a run started on any other.
 */
import type { Request, Response } from 'express';
import { MscrError } from '../../connectors/errors.ts';
import { mscrTrainRunPath } from '../../connectors/sc/index.ts';
import type { RetrainLauncher, RetrainRun } from '../../connectors/sr/index.ts';
import {
  parseEvaluateRequest,
  parseTrainId,
  parseTrainRequest,
  trainId,
  type EvaluateResponse,
  type ModelEvaluator,
  type TrainResponse,
} from '../../connectors/sr/train.ts';
import { requireAdmin, requireJson } from './admin.ts';
import { parseJsonBody } from './body.ts';
import { streamRun } from './sse.ts';

export interface TrainRoutesOptions {
  adminToken: string;
  /** Folders `file://` data may name (none: `file://` is refused). */
  fileRoots: readonly string[];
  /** Architecture names the trainer knows; absent: any well-formed name (the job checks). */
  architectures?: readonly string[];
  evaluator?: ModelEvaluator;
  /** SSE: how often the run store is read, the heartbeat, and the reconnect hint. */
  pollMs?: number;
  heartbeatMs?: number;
  retryMs?: number;
  /** Most progress streams open at once (each polls the store); default 64. */
  maxStreams?: number;
}

/** A training or evaluation request is a few hundred bytes; 16 KiB is generous. */
const MAX_BODY = 16 * 1024;

export interface TrainRouteContext {
  req: Request;
  res: Response;
  body: Buffer;
  launcher: () => RetrainLauncher;
  draining: () => boolean;
  log: (message: string, fields: Record<string, unknown>) => void;
}

function checkBody(req: Request, body: Buffer, what: string): unknown {
  requireJson(req, what);
  if (body.length > MAX_BODY) {
    throw new MscrError(
      'payload_too_large',
      `${what} is larger than the limit of ${MAX_BODY} bytes`,
    );
  }
  return parseJsonBody(body);
}

async function readRun(
  launcher: RetrainLauncher,
  model: string,
  runId: string,
): Promise<RetrainRun | undefined> {
  if (launcher.run) return launcher.run(model, runId);
  return (await launcher.runs(model, { limit: 200 })).find((r) => r.id === runId);
}

export function createTrainRoutes(options: TrainRoutesOptions) {
  let streams = 0;
  const maxStreams = options.maxStreams ?? 64;
  return {
    async train({ req, res, body, launcher }: TrainRouteContext): Promise<TrainResponse> {
      requireAdmin(req, res, options.adminToken);
      const request = parseTrainRequest(checkBody(req, body, 'a training request'), {
        fileRoots: options.fileRoots,
        ...(options.architectures ? { architectures: options.architectures } : {}),
      });
      const { runId } = await launcher().start(
        request.model,
        { kind: 'request', reason: 'POST /mscr/train' },
        {
          data: request.data,
          ...(request.architecture ? { architecture: request.architecture } : {}),
          ...(request.hyperparameters ? { hyperparameters: request.hyperparameters } : {}),
          ...(request.search ? { search: request.search } : {}),
        },
      );
      const id = trainId(request.model, runId);
      res.status(202).setHeader('Location', mscrTrainRunPath(id));
      return { id, model: request.model, runId, state: 'started' };
    },

    async status(
      { req, res, launcher, draining, log }: TrainRouteContext,
      id: string,
    ): Promise<RetrainRun | undefined> {
      requireAdmin(req, res, options.adminToken);
      const { model, runId } = parseTrainId(id);
      const runs = launcher();
      const run = await readRun(runs, model, runId);
      if (run === undefined) {
        throw new MscrError('not_found', `no training run ${JSON.stringify(id.slice(0, 120))}`);
      }
      res.vary('Accept');
      if (req.accepts(['application/json', 'text/event-stream']) !== 'text/event-stream') {
        return run;
      }
      if (streams >= maxStreams) {
        res.setHeader('Retry-After', '5');
        throw new MscrError('unavailable', `${streams} progress streams are open; try again`);
      }
      streams++;
      try {
        await streamRun(req, res, run, {
          read: () => readRun(runs, model, runId),
          pollMs: options.pollMs ?? 1000,
          heartbeatMs: options.heartbeatMs ?? 15_000,
          retryMs: options.retryMs ?? 3000,
          draining,
          onError: (error) => log('reading a run for its progress stream failed', { id, error }),
        });
      } finally {
        streams--;
      }
      return undefined;
    },

    async evaluate(
      { req, res, body }: TrainRouteContext,
      model: string,
    ): Promise<EvaluateResponse> {
      requireAdmin(req, res, options.adminToken);
      const request = parseEvaluateRequest(checkBody(req, body, 'an evaluation request'), {
        fileRoots: options.fileRoots,
      });
      if (options.evaluator === undefined) {
        throw new MscrError(
          'unavailable',
          'evaluation is not set up in this service: it was started without an evaluator',
          { status: 501 },
        );
      }
      // The client leaving stops the evaluation's child process.
      const abort = new AbortController();
      const onClose = () => {
        if (!res.writableEnded) abort.abort();
      };
      res.on('close', onClose);
      try {
        return await options.evaluator.evaluate(model, request, abort.signal);
      } finally {
        res.off('close', onClose);
      }
    },
  };
}
