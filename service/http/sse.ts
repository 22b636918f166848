/**
 * A training run's progress as Server-Sent Events (the WHATWG HTML "server-sent events"
 * format): `retry:` first, then one event per progress entry the job wrote to the run record
 * (`id:` its sequence number, `event:` its type, `data:` one line of JSON), a comment line as
 * a heartbeat, and at the end a `report` event with the whole record, after which the stream
 * closes. The record is read from the run store, so the stream works for runs on any pod.
 *
 * Resuming: a client that reconnects with `Last-Event-ID: <n>` gets the entries after n. The
 * report's id is `done`; reconnecting after it is answered 204, which per the spec tells an
 * EventSource to stop reconnecting. A client that goes away stops the polling at once; a
 * draining Service ends its streams (the client resumes on another replica).
 */
import type { Request, Response } from 'express';
import type { RetrainRun } from '../../connectors/sr/index.ts';

export interface RunStreamOptions {
  /** The record now (undefined: not written yet). */
  read: () => Promise<RetrainRun | undefined>;
  pollMs: number;
  heartbeatMs: number;
  retryMs: number;
  /** Whether the Service is draining: then the stream ends. */
  draining: () => boolean;
  /** Told of a read that failed (the stream goes on polling). */
  onError?: (error: unknown) => void;
}

/** The `Last-Event-ID` a reconnecting client sent: a sequence number, `done`, or none. */
function lastEventId(req: Request): number | 'done' {
  const given = req.get('last-event-id')?.trim();
  if (given === 'done') return 'done';
  return given !== undefined && /^[0-9]{1,9}$/.test(given) ? Number(given) : 0;
}

/** One event in the SSE wire format; `data` is JSON (one line, so one `data:` field). */
export function sseEvent(event: string, data: unknown, id?: string | number): string {
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Streams a run until its report, the client leaving, or a drain. Resolves when it ends. */
export async function streamRun(
  req: Request,
  res: Response,
  first: RetrainRun,
  options: RunStreamOptions,
): Promise<void> {
  const resume = lastEventId(req);
  if (resume === 'done' && first.outcome !== 'running') {
    res.status(204).end();
    return;
  }
  let seen = resume === 'done' ? 0 : resume;
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('X-Accel-Buffering', 'no'); // nginx and ingress controllers: do not buffer
  res.flushHeaders();
  res.write(`retry: ${options.retryMs}\n\n`);

  let closed = false;
  let wake: () => void = () => undefined;
  const stop = () => {
    closed = true;
    wake();
  };
  // The response's `close` (not the request's, which fires once its body is read): the
  // connection ended, by the client or the server.
  res.on('close', stop);
  const heartbeat = setInterval(() => {
    if (!closed) res.write(`: keep-alive ${new Date().toISOString()}\n\n`);
  }, options.heartbeatMs);
  heartbeat.unref();

  try {
    let run: RetrainRun | undefined = first;
    while (!closed) {
      if (run !== undefined) {
        for (const entry of run.progress ?? []) {
          if (entry.seq <= seen) continue;
          res.write(sseEvent(entry.type, entry, entry.seq));
          seen = entry.seq;
        }
        if (run.outcome !== 'running') {
          const { progress: _progress, ...report } = run;
          res.write(sseEvent('report', report, 'done'));
          break;
        }
      }
      if (options.draining()) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (closed) break;
      try {
        run = await options.read();
      } catch (error) {
        options.onError?.(error);
      }
    }
  } finally {
    clearInterval(heartbeat);
    res.off('close', stop);
    if (!res.writableEnded) res.end();
  }
}
