/**
 * The SDK's training side: `POST /mscr/train`, `GET /mscr/train/{id}` (JSON, or its progress
 * as Server-Sent Events read from a streaming fetch, in Node and browsers alike) and
 * `POST /mscr/models/{m}/evaluate`. All take the admin token.
 */
import { mscrEvaluatePath, mscrTrainRunPath, MSCR_TRAIN_PATH } from '../../connectors/sc/index.ts';
import type { RetrainRun } from '../../connectors/sr/index.ts';
import type {
  EvaluateRequest,
  EvaluateResponse,
  ProgressEntry,
  TrainRequest,
  TrainResponse,
} from '../../connectors/sr/train.ts';
import { MscrClientError } from './errors.ts';
import { serverErrorText, type CallOptions, type FetchLike } from './transport.ts';

export interface AdminOptions extends CallOptions {
  /** The admin token, sent as `Authorization: Bearer <token>`. */
  token: string;
}

/** One event of a training run's progress stream. */
export type TrainEvent =
  | { event: 'state' | 'epoch' | 'trial'; id?: string; data: ProgressEntry }
  | { event: 'report'; id?: string; data: RetrainRun }
  | { event: string; id?: string; data: unknown };

export interface TrainEventsOptions extends AdminOptions {
  /** Reconnect this many times when the stream breaks before the report (default 5). */
  reconnects?: number;
}

export function bearer(token: unknown, what: string): string {
  if (typeof token !== 'string' || token.trim() === '') {
    throw new MscrClientError('input', `${what} needs the admin token`);
  }
  return `Bearer ${token.trim()}`;
}

/**
 * Parses a text/event-stream body into events (the WHATWG algorithm: fields up to a blank
 * line, `data` lines joined by newlines, comments and `retry` skipped, `id` kept).
 */
export async function* parseEventStream(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ event: string; id?: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer.startsWith('\r\n', end) ? 2 : 1));
        if (line === '') {
          if (data.length > 0) {
            yield {
              event: event || 'message',
              ...(id !== undefined ? { id } : {}),
              data: data.join('\n'),
            };
          }
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id' && !value.includes('\0')) id = value;
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}

export function createTrainingCalls(deps: {
  baseUrl: string;
  fetch: FetchLike;
  headers: Record<string, string>;
  getJson: <T>(path: string, options: CallOptions) => Promise<T>;
  postJson: <T>(
    path: string,
    body: unknown,
    idempotent: boolean,
    options: CallOptions,
    extra: { headers: Record<string, string> },
  ) => Promise<T>;
}) {
  return {
    /** `POST /mscr/train`: starts a training run (202 with its id). */
    async train(request: TrainRequest, options: AdminOptions): Promise<TrainResponse> {
      const { token, ...callOptions } = options;
      const authorization = bearer(token, 'training');
      return deps.postJson<TrainResponse>(MSCR_TRAIN_PATH, request, false, callOptions, {
        headers: { authorization },
      });
    },

    /** `GET /mscr/train/{id}`: the run's record. */
    async trainStatus(id: string, options: AdminOptions): Promise<RetrainRun> {
      const { token, ...callOptions } = options;
      return deps.getJson<RetrainRun>(mscrTrainRunPath(id), {
        ...callOptions,
        headers: { ...callOptions.headers, authorization: bearer(token, 'training') },
      });
    },

    /**
     * `GET /mscr/train/{id}` as Server-Sent Events: the run's progress (state, epoch and
     * trial events) and finally its `report`, after which the iteration ends. A broken
     * stream is resumed with `Last-Event-ID`, so no event is seen twice.
     */
    async *trainEvents(id: string, options: TrainEventsOptions): AsyncGenerator<TrainEvent> {
      const authorization = bearer(options.token, 'training');
      const url = `${deps.baseUrl}${mscrTrainRunPath(id)}`;
      let lastId: string | undefined;
      let reconnects = options.reconnects ?? 5;
      for (;;) {
        let response: Response;
        try {
          response = await deps.fetch(url, {
            headers: {
              ...deps.headers,
              ...options.headers,
              accept: 'text/event-stream',
              authorization,
              ...(lastId !== undefined ? { 'last-event-id': lastId } : {}),
            },
            ...(options.signal ? { signal: options.signal } : {}),
          });
        } catch (error) {
          if (options.signal?.aborted) {
            throw new MscrClientError('aborted', `GET ${url} was cancelled`, { url, cause: error });
          }
          if (reconnects-- > 0) {
            await new Promise((resolve) => setTimeout(resolve, 1000));
            continue;
          }
          throw new MscrClientError('network', `GET ${url} failed: ${String(error)}`, {
            method: 'GET',
            url,
            cause: error,
          });
        }
        if (response.status === 204) return;
        if (!response.ok || response.body === null) {
          const text = serverErrorText(new Uint8Array(await response.arrayBuffer()));
          throw new MscrClientError(
            'http',
            `GET ${url} answered ${response.status}${text ? `: ${text}` : ''}`,
            {
              httpStatus: response.status,
              ...(text ? { serverMessage: text } : {}),
              method: 'GET',
              url,
            },
          );
        }
        try {
          for await (const raw of parseEventStream(response.body)) {
            if (raw.id !== undefined) lastId = raw.id;
            let data: unknown;
            try {
              data = JSON.parse(raw.data);
            } catch {
              throw new MscrClientError('protocol', `an event of ${url} is not JSON`, { url });
            }
            yield {
              event: raw.event,
              ...(raw.id !== undefined ? { id: raw.id } : {}),
              data,
            } as TrainEvent;
            if (raw.event === 'report') return;
          }
        } catch (error) {
          if (error instanceof MscrClientError || options.signal?.aborted) throw error;
        }
        // The stream ended before the report (a drain, a dropped connection): resume after
        // a pause (the server's `retry:` hint is 3 s; a second is enough to reach a replica).
        if (reconnects-- <= 0) {
          throw new MscrClientError('network', `the progress stream of ${id} kept breaking`, {
            url,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    },

    /** `POST /mscr/models/{m}/evaluate`: a version's metrics on data. */
    async evaluate(
      model: string,
      request: EvaluateRequest & { alias?: string },
      options: AdminOptions,
    ): Promise<EvaluateResponse> {
      const { token, ...callOptions } = options;
      const authorization = bearer(token, 'evaluation');
      let urlPath: string;
      try {
        urlPath = mscrEvaluatePath(model);
      } catch (error) {
        throw new MscrClientError('input', (error as Error).message, { cause: error });
      }
      // A long evaluation: no client timeout shorter than the caller's own.
      return deps.postJson<EvaluateResponse>(urlPath, request, true, callOptions, {
        headers: { authorization },
      });
    },
  };
}
