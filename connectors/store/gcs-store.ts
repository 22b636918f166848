/**
 * `ObjectStore` adapter for Google Cloud Storage (`gs://bucket[/prefix]`), on
 * `@google-cloud/storage` v7.
 *
 * How each operation maps to GCS:
 *
 * - `get`: `objects.get?alt=media` (`File#download`, checksum-validated by the SDK);
 *   404 -> `not_found`. `getStream` is the same request as a stream: it resolves once the
 *   response headers are in (so a missing object rejects with `not_found`, not a stream
 *   error) and maps later stream errors to `MscrError` too.
 * - `stat`: `objects.get` metadata (`File#getMetadata`); 404 -> undefined.
 * - `put`: one upload request. Up to `resumableThreshold` bytes (default 8 MiB) a simple
 *   (multipart: metadata + bytes) upload; above it a resumable upload session streamed from
 *   the body in 1 MiB slices, so memory stays bounded by the SDK's stream buffers. Either
 *   way GCS makes the object visible only when the upload completes: readers never see
 *   part of one.
 * - `putIfAbsent`: the same upload with `ifGenerationMatch=0`; GCS answers 412 when the
 *   name is taken, which is `false`. Never a read-then-write. Each call tags its object
 *   with a random `mscr-write-id`; if a retried attempt gets 412, the object is read once
 *   to see whether the earlier attempt (whose answer was lost) created it, so a lost
 *   response never turns our own win into `false`.
 * - `list`: `objects.list` with `prefix` and `delimiter: '/'`, page by page
 *   (`autoPaginate: false`, because with auto-pagination the SDK returns only the objects
 *   and drops the `prefixes` of every page). Names are made relative to the prefix, sorted;
 *   names no key could reach (`..`, `a//b`, backslashes) are hidden. A missing bucket is
 *   `unavailable` naming the bucket (as a missing root folder is for the local store), a
 *   missing prefix lists as empty.
 * - `delete`: `objects.delete` with `ignoreNotFound`.
 *
 * Retries and timeouts. The SDK's own retries are switched off (`autoRetry: false`) and
 * done here instead, because the SDK toggles `storage.retryOptions.autoRetry` on the shared
 * client around every unconditional write, which makes retries of concurrent reads a matter
 * of timing, and it ignores `maxRetries: 0`. The policy:
 *
 * - reads (`get`, `getStream` until the response starts, `stat`, `list` per page) and the
 *   conditional create (`putIfAbsent`) retry on 408, 429, 5xx and network errors;
 * - unconditional writes (`put`, `delete`) retry only when the request provably did not
 *   take effect: connection refused, DNS failure, 408 or 429. A 5xx or a reset connection
 *   may come after GCS applied the write, and replaying an overwrite could clobber a newer
 *   one (the SDK's `RetryConditional` default makes the same call). Set
 *   `retryUnconditionalWrites: true` to retry those too (as the SDK's `RetryAlways`);
 * - backoff `retryDelayMs` doubling up to `maxRetryDelayMs`, with jitter, at most `retries`
 *   retries, and none started after `retryDeadlineMs`; each HTTP request times out after
 *   `timeoutMs` (uploads: after `timeoutMs` without progress). A store that is down (refused,
 *   unresolvable, 503) therefore fails in about a second with `unavailable`.
 *
 * Errors are `MscrError`s that name the operation and the object's URI
 * (`writing gs://b/p/m/1/weights.bin: ...`). Messages and causes never carry credentials:
 * SDK errors (whose request config holds the `Authorization` header) are not attached;
 * only a scrubbed copy of their message is.
 *
 * Credentials are the SDK's: `keyFilename` / `credentials` when given, else Application
 * Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud user credentials, or the
 * metadata server, which is how GKE Workload Identity works). With a custom endpoint the
 * SDK sends no credentials unless `useAuthWithCustomEndpoint` is set (right for emulators).
 */
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable, pipeline } from 'node:stream';
import { Storage } from '@google-cloud/storage';
import type { Bucket, GetFilesOptions, StorageOptions } from '@google-cloud/storage';
import { MscrError, errorMessage } from '../errors.ts';
import { trimTrailing } from '../text.ts';
import { validateObjectKey, validateObjectPrefix } from './local-store.ts';
import { parseGcsUri } from './cloud-uri.ts';
import type { ObjectStore } from './object-store.ts';

export const DEFAULT_RESUMABLE_THRESHOLD = 8 * 1024 * 1024;
/** Custom metadata key that tags each `putIfAbsent` attempt's object. */
export const WRITE_ID_METADATA = 'mscr-write-id';

const UPLOAD_SLICE = 1024 * 1024;
const PAGE_SIZE = 1000;

export interface GcsStoreOptions {
  /**
   * API endpoint, e.g. `http://127.0.0.1:4443` for fake-gcs-server or a Private Service
   * Connect endpoint. Default: `STORAGE_EMULATOR_HOST` when set (a bare `host:port` means
   * http, as in the Go SDK; a trailing `/storage/v1` is accepted), else
   * `https://storage.googleapis.com`. Read and normalised here because SDK v7 uses the raw
   * variable as the JSON API base URL, so with it set alone either uploads or the JSON API
   * miss the emulator's routes.
   */
  apiEndpoint?: string;
  /** Send credentials to a custom `apiEndpoint` too (default false, as in the SDK). */
  useAuthWithCustomEndpoint?: boolean;
  /** Project ID (default: from the credentials or `GOOGLE_CLOUD_PROJECT`, as the SDK finds it). */
  projectId?: string;
  /** A service-account key file (default: Application Default Credentials). */
  keyFilename?: string;
  /** Service-account credentials as an object (e.g. read from a mounted Secret). */
  credentials?: StorageOptions['credentials'];
  /** Bodies larger than this (bytes) go through a resumable upload (default 8 MiB). */
  resumableThreshold?: number;
  /** Retries after the first attempt (default 3; 0 = none). */
  retries?: number;
  /** First backoff delay in ms, doubled per retry, with jitter (default 200). */
  retryDelayMs?: number;
  /** Longest backoff delay in ms (default 2000). */
  maxRetryDelayMs?: number;
  /** No retry starts later than this many ms after the operation began (default 10000). */
  retryDeadlineMs?: number;
  /** Per HTTP request timeout in ms; for uploads, the longest stall without progress (default 30000). */
  timeoutMs?: number;
  /** Also retry `put`/`delete` after ambiguous failures (5xx, reset connections). Default false. */
  retryUnconditionalWrites?: boolean;
}

/** A GCS object store; `getStream` reads an object without holding it in memory. */
export interface GcsObjectStore extends ObjectStore {
  readonly bucket: string;
  /** The object-name prefix: `''` or ending in `/`. */
  readonly prefix: string;
  /** The API endpoint in use (without credentials). */
  readonly endpoint: string;
  getStream(key: string): Promise<Readable>;
}

type Operation = 'reading' | 'checking' | 'writing' | 'creating' | 'listing' | 'deleting';
/** read: idempotent; conditional: a create guarded by a precondition; unconditional: an overwrite or delete. */
type RetryKind = 'read' | 'conditional' | 'unconditional';

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** Answers that mean the request was not carried out. */
const NOT_APPLIED_STATUS = new Set([408, 429]);
/** Failures before a request reached the server. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const NETWORK_CODES = new Set([
  ...NOT_SENT_CODES,
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);
const NETWORK_MESSAGE =
  /socket hang up|network timeout|timed? ?out|premature close|connection closure/i;

/** What is known about an SDK error. */
interface Failure {
  status?: number;
  code?: string;
  message: string;
}

/** Thrown by `retrying` when it gives up: the last error and how many attempts were made. */
class GaveUp extends Error {
  readonly error: unknown;
  readonly attempts: number;
  constructor(error: unknown, attempts: number) {
    super(errorMessage(error));
    this.error = error;
    this.attempts = attempts;
  }
}

function propertyOf(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

function failureOf(error: unknown): Failure {
  const code = propertyOf(error, 'code');
  const response = propertyOf(error, 'response');
  const candidates = [
    typeof code === 'number'
      ? code
      : typeof code === 'string' && /^\d{3}$/.test(code)
        ? Number(code)
        : undefined,
    propertyOf(error, 'status'),
    propertyOf(response, 'status'),
    propertyOf(response, 'statusCode'),
  ];
  const status = candidates.find((c): c is number => typeof c === 'number' && c >= 100 && c < 600);
  const text = typeof code === 'string' && !/^\d{3}$/.test(code) ? code : undefined;
  const type = propertyOf(error, 'type');
  return {
    ...(status === undefined ? {} : { status }),
    ...(text === undefined
      ? type === 'request-timeout' || type === 'body-timeout'
        ? { code: 'ETIMEDOUT' }
        : {}
      : { code: text }),
    message: scrub(errorMessage(error)),
  };
}

function isNetworkFailure(failure: Failure): boolean {
  if (failure.status !== undefined) return false;
  return (
    (failure.code !== undefined && NETWORK_CODES.has(failure.code)) ||
    NETWORK_MESSAGE.test(failure.message)
  );
}

/**
 * Removes anything credential-like from a message: PEM blocks, JSON key fields, bearer
 * tokens, signed-URL and upload-session parameters, URL user-info. Also trims it.
 */
export function scrub(text: string): string {
  // SDK messages are short; the cut keeps the polynomial patterns below (user-info, PEM) cheap
  // even on a hostile one, and the result is cut to 500 anyway.
  return (
    text
      .slice(0, 8192)
      .replace(/-----BEGIN [A-Z ]+-----[\s\S]*?(?:-----END [A-Z ]+-----|$)/g, '[redacted]')
      .replace(
        /("?(?:private_key(?:_id)?|client_secret|refresh_token|access_token|id_token)"?\s*[:=]\s*)("(?:[^"\\]|\\.)*"?|[^\s&,]+)/gi,
        '$1[redacted]',
      )
      .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, '$1 [redacted]')
      .replace(
        /([?&](?:access_token|key|upload_id|X-Goog-Signature|X-Goog-Credential|Signature|GoogleAccessId)=)[^&\s"']+/gi,
        '$1[redacted]',
      )
      // eslint-disable-next-line redos/no-vulnerable -- input cut to 8 KiB above
      .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s:]+(?::[^/@\s]*)?@/gi, '$1')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 500)
  );
}

export { parseGcsUri } from './cloud-uri.ts';

/** The endpoint to use: the option, else `STORAGE_EMULATOR_HOST`, normalised; undefined for Google's. */
function resolveEndpoint(option: string | undefined): string | undefined {
  const fromEnv = option === undefined || option.trim() === '';
  const raw = (fromEnv ? process.env.STORAGE_EMULATOR_HOST : option)?.trim();
  if (raw === undefined || raw === '') return undefined;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw)
    ? raw
    : `${fromEnv ? 'http' : 'https'}://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new MscrError(
      'config',
      `invalid GCS endpoint ${JSON.stringify(scrub(raw))}${fromEnv ? ' (from STORAGE_EMULATOR_HOST)' : ''}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MscrError(
      'config',
      `invalid GCS endpoint ${JSON.stringify(scrub(raw))}: use http or https`,
    );
  }
  return trimTrailing(url.href, '/').replace(/\/storage\/v1$/, '');
}

function contentTypeOf(key: string): string {
  return key.endsWith('.json') ? 'application/json' : 'application/octet-stream';
}

/** `body` in slices that share its memory. */
function* slicesOf(body: Uint8Array): Generator<Buffer> {
  const all = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  for (let offset = 0; offset < all.length; offset += UPLOAD_SLICE) {
    yield all.subarray(offset, Math.min(all.length, offset + UPLOAD_SLICE));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function isValidName(name: string): boolean {
  try {
    validateObjectKey(name);
    return true;
  } catch {
    return false;
  }
}

class GcsStore implements GcsObjectStore {
  readonly uri: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly endpoint: string;
  private readonly client: Bucket;
  private readonly resumableThreshold: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly retryDeadlineMs: number;
  private readonly timeoutMs: number;
  private readonly retryUnconditionalWrites: boolean;

  constructor(uri: string, options: GcsStoreOptions) {
    const parsed = parseGcsUri(uri);
    this.uri = parsed.uri;
    this.bucket = parsed.bucket;
    this.prefix = parsed.prefix;
    const count = (value: number | undefined, fallback: number, name: string): number => {
      if (value === undefined) return fallback;
      if (!Number.isFinite(value) || value < 0) {
        throw new MscrError(
          'config',
          `GCS store option ${name} must be a number >= 0, got ${String(value)}`,
        );
      }
      return value;
    };
    this.resumableThreshold = count(
      options.resumableThreshold,
      DEFAULT_RESUMABLE_THRESHOLD,
      'resumableThreshold',
    );
    this.retries = Math.floor(count(options.retries, 3, 'retries'));
    this.retryDelayMs = count(options.retryDelayMs, 200, 'retryDelayMs');
    this.maxRetryDelayMs = count(options.maxRetryDelayMs, 2_000, 'maxRetryDelayMs');
    this.retryDeadlineMs = count(options.retryDeadlineMs, 10_000, 'retryDeadlineMs');
    this.timeoutMs = count(options.timeoutMs, 30_000, 'timeoutMs') || 30_000;
    this.retryUnconditionalWrites = options.retryUnconditionalWrites ?? false;

    const endpoint = resolveEndpoint(options.apiEndpoint);
    const storageOptions: StorageOptions = {
      retryOptions: { autoRetry: false },
      timeout: this.timeoutMs,
    };
    if (endpoint !== undefined) {
      storageOptions.apiEndpoint = endpoint;
      storageOptions.useAuthWithCustomEndpoint = options.useAuthWithCustomEndpoint ?? false;
    }
    if (options.projectId !== undefined) storageOptions.projectId = options.projectId;
    if (options.keyFilename !== undefined) storageOptions.keyFilename = options.keyFilename;
    if (options.credentials !== undefined) storageOptions.credentials = options.credentials;
    const storage = new Storage(storageOptions);
    // SDK v7 takes STORAGE_EMULATOR_HOST verbatim as the JSON API base URL, without the
    // `/storage/v1` that its uploads and every GCS-compatible server expect.
    if (endpoint !== undefined) storage.baseUrl = `${endpoint}/storage/v1`;
    this.endpoint = (endpoint ?? storage.apiEndpoint).replace(/\/\/[^/@]*@/, '//');
    this.client = storage.bucket(this.bucket);
  }

  /** The URI of one object (or prefix), for messages. */
  private uriOf(key: string): string {
    return key === '' ? `${this.uri}/` : `${this.uri}/${key}`;
  }

  private nameOf(key: string): string {
    validateObjectKey(key);
    return this.prefix + key;
  }

  private shouldRetry(kind: RetryKind, failure: Failure): boolean {
    const transient =
      (failure.status !== undefined && RETRYABLE_STATUS.has(failure.status)) ||
      isNetworkFailure(failure) ||
      failure.code === 'CONTENT_DOWNLOAD_MISMATCH';
    if (kind !== 'unconditional' || this.retryUnconditionalWrites) return transient;
    return (
      (failure.status !== undefined && NOT_APPLIED_STATUS.has(failure.status)) ||
      (failure.status === undefined &&
        failure.code !== undefined &&
        NOT_SENT_CODES.has(failure.code))
    );
  }

  /** Runs `attempt` with the retry policy of `kind`; throws `GaveUp` with the last error. */
  private async retrying<T>(kind: RetryKind, attempt: (n: number) => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let n = 1; ; n++) {
      try {
        return await attempt(n);
      } catch (error) {
        if (error instanceof MscrError) throw error;
        const again =
          n <= this.retries &&
          Date.now() - started < this.retryDeadlineMs &&
          this.shouldRetry(kind, failureOf(error));
        if (!again) throw new GaveUp(error, n);
        const delay = Math.min(this.maxRetryDelayMs, this.retryDelayMs * 2 ** (n - 1));
        await sleep(delay * (0.5 + Math.random() / 2));
      }
    }
  }

  private failure(operation: Operation, key: string, thrown: unknown): MscrError {
    if (thrown instanceof MscrError) return thrown;
    const error = thrown instanceof GaveUp ? thrown.error : thrown;
    if (error instanceof MscrError) return error;
    const attempts = thrown instanceof GaveUp ? thrown.attempts : 1;
    const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
    const failure = failureOf(error);
    const where = `${operation} ${this.uriOf(key)}`;
    // The SDK's own text, unless it only repeats the status ("Not Found", "Request failed
    // with status code 404"); for network errors just the reason, not the whole URL again.
    const generic = /^(?:not found|forbidden|unauthorized|request failed with status code \d+)$/i;
    const message = failure.message.slice(0, 8192);
    const marker = message.indexOf('reason: ');
    const after = marker >= 0 ? message.slice(marker + 'reason: '.length) : '';
    const reason = after !== '' && !after.includes('\n') ? after : failure.message;
    const detail = reason === '' || generic.test(reason) ? '' : `: ${reason}`;
    // Only a scrubbed summary goes along as the cause: SDK errors carry request headers.
    const cause = new Error(
      [
        failure.status === undefined ? undefined : `HTTP ${failure.status}`,
        failure.code,
        failure.message,
      ]
        .filter((part) => part !== undefined && part !== '')
        .join(' '),
    );
    const make = (code: ConstructorParameters<typeof MscrError>[0], text: string): MscrError =>
      new MscrError(code, `${where}: ${text}`, { cause });
    const status = failure.status;
    const reading = operation === 'reading' || operation === 'checking';
    if (status === 404) {
      if (reading) return make('not_found', `no such object${tries}`);
      return make(
        'unavailable',
        `bucket ${this.bucket} does not exist or is not visible to these credentials${detail}`,
      );
    }
    if (status === 401 || status === 403) {
      return make(
        'unavailable',
        `permission denied (HTTP ${status}) on bucket ${this.bucket}; check the credentials and their roles${detail}`,
      );
    }
    if (status === 412) return make('conflict', `precondition failed${detail}`);
    if (status === 400) return make('bad_request', `refused by GCS (HTTP 400)${detail}`);
    if (failure.code === 'CONTENT_DOWNLOAD_MISMATCH') {
      return make('integrity', `downloaded bytes do not match the object's checksum${tries}`);
    }
    if (status !== undefined) return make('unavailable', `HTTP ${status}${detail}${tries}`);
    if (isNetworkFailure(failure)) {
      return make('unavailable', `cannot reach ${this.endpoint}${detail}${tries}`);
    }
    return make('unavailable', `${failure.message || 'unknown error'}${tries}`);
  }

  async get(key: string): Promise<Uint8Array> {
    const file = this.client.file(this.nameOf(key));
    try {
      const [buffer] = await this.retrying('read', () => file.download());
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      throw this.failure('reading', key, error);
    }
  }

  async getStream(key: string): Promise<Readable> {
    const name = this.nameOf(key);
    try {
      return await this.retrying('read', () => this.openStream(key, name));
    } catch (error) {
      throw this.failure('reading', key, error);
    }
  }

  /** Starts a download; resolves when the response starts, rejects if it fails before. */
  private openStream(key: string, name: string): Promise<Readable> {
    return new Promise<Readable>((resolve, reject) => {
      const source = this.client.file(name).createReadStream();
      const out = new PassThrough();
      let started = false;
      // 'response' comes with the headers, also for errors: those end in 'error' next.
      source.on('response', (response: unknown) => {
        const status = propertyOf(response, 'statusCode');
        if (started || typeof status !== 'number' || status < 200 || status >= 300) return;
        started = true;
        resolve(out);
      });
      source.on('error', (error: Error) => {
        if (started) {
          out.destroy(this.failure('reading', key, error));
        } else {
          out.destroy();
          reject(error);
        }
      });
      out.on('close', () => source.destroy());
      source.pipe(out);
    });
  }

  async stat(key: string): Promise<{ size: number } | undefined> {
    const file = this.client.file(this.nameOf(key));
    try {
      const [metadata] = await this.retrying('read', () => file.getMetadata());
      const size = Number(metadata.size);
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new MscrError('unavailable', `checking ${this.uriOf(key)}: GCS returned no size`);
      }
      return { size };
    } catch (error) {
      const thrown = error instanceof GaveUp ? error.error : error;
      if (!(thrown instanceof MscrError) && failureOf(thrown).status === 404) return undefined;
      throw this.failure('checking', key, error);
    }
  }

  /** One upload attempt: simple up to the threshold, resumable above it. */
  private upload(
    name: string,
    body: Uint8Array,
    metadata: Record<string, string>,
    ifAbsent: boolean,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const contentType = contentTypeOf(name);
      const target = this.client.file(name).createWriteStream({
        resumable: body.byteLength > this.resumableThreshold,
        gzip: false,
        contentType,
        metadata: { contentType, metadata },
        timeout: this.timeoutMs,
        ...(ifAbsent ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
      });
      // A stall watchdog: resumable uploads get no request timeout from the SDK.
      const watchdog = setTimeout(() => {
        target.destroy(
          Object.assign(new Error(`upload made no progress for ${this.timeoutMs} ms`), {
            code: 'ETIMEDOUT',
          }),
        );
      }, this.timeoutMs);
      const slices = slicesOf(body);
      const source = new Readable({
        highWaterMark: UPLOAD_SLICE,
        read() {
          watchdog.refresh();
          const next = slices.next();
          this.push(next.done === true ? null : next.value);
        },
      });
      pipeline(source, target, (error) => {
        clearTimeout(watchdog);
        if (error) reject(error);
        else resolve();
      });
    });
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const name = this.nameOf(key);
    try {
      await this.retrying('unconditional', () => this.upload(name, body, {}, false));
    } catch (error) {
      throw this.failure('writing', key, error);
    }
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    const name = this.nameOf(key);
    const writeId = randomUUID();
    let attempts = 0;
    try {
      await this.retrying('conditional', (n) => {
        attempts = n;
        return this.upload(name, body, { [WRITE_ID_METADATA]: writeId }, true);
      });
      return true;
    } catch (error) {
      const thrown = error instanceof GaveUp ? error.error : error;
      if (thrown instanceof MscrError || failureOf(thrown).status !== 412) {
        throw this.failure('creating', key, error);
      }
      if (attempts <= 1) return false;
      // An earlier attempt may have created the object and lost its answer: is it ours?
      try {
        const [metadata] = await this.retrying('read', () => this.client.file(name).getMetadata());
        return metadata.metadata?.[WRITE_ID_METADATA] === writeId;
      } catch (checkError) {
        throw this.failure('creating', key, checkError);
      }
    }
  }

  async list(prefix: string): Promise<{ objects: string[]; prefixes: string[] }> {
    validateObjectPrefix(prefix);
    const full = this.prefix + prefix;
    const objects: string[] = [];
    const prefixes: string[] = [];
    const seenTokens = new Set<string>();
    let query: GetFilesOptions = {
      prefix: full,
      delimiter: '/',
      autoPaginate: false,
      maxResults: PAGE_SIZE,
    };
    try {
      for (;;) {
        const page = query;
        const [files, next, raw] = await this.retrying('read', () => this.client.getFiles(page));
        for (const file of files) {
          const name = file.name.slice(full.length);
          if (file.name.startsWith(full) && isValidName(name)) objects.push(name);
        }
        const rawPrefixes = propertyOf(raw, 'prefixes');
        if (Array.isArray(rawPrefixes)) {
          for (const value of rawPrefixes) {
            if (typeof value !== 'string' || !value.startsWith(full) || !value.endsWith('/'))
              continue;
            const name = value.slice(full.length, -1);
            if (isValidName(name)) prefixes.push(`${name}/`);
          }
        }
        const token = next?.pageToken;
        if (token === undefined || token === '' || seenTokens.has(token)) break;
        seenTokens.add(token);
        query = { ...query, pageToken: token };
      }
    } catch (error) {
      throw this.failure('listing', prefix, error);
    }
    return { objects: [...new Set(objects)].sort(), prefixes: [...new Set(prefixes)].sort() };
  }

  async delete(key: string): Promise<void> {
    const file = this.client.file(this.nameOf(key));
    try {
      await this.retrying('unconditional', () => file.delete({ ignoreNotFound: true }));
    } catch (error) {
      throw this.failure('deleting', key, error);
    }
  }
}

/**
 * An object store over `gs://bucket[/prefix]`. Throws `MscrError('config')` for a URI or
 * option that cannot work; connects lazily (the first operation reaches GCS).
 */
export function createGcsObjectStore(uri: string, options: GcsStoreOptions = {}): GcsObjectStore {
  return new GcsStore(uri, options);
}
