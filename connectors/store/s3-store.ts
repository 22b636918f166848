/**
 * `ObjectStore` adapter for Amazon S3 and S3-compatible servers (MinIO, Ceph RGW, ...), for
 * store URIs `s3://bucket[/prefix]`.
 *
 * How each operation maps to S3:
 *
 * - `get`: `GetObject`, whole body in memory (`getStream` for a stream). `NoSuchKey` ->
 *   `not_found`. A body cut off mid-transfer is fetched again (bounded), as the SDK only
 *   retries the request, not the body.
 * - `stat`: `HeadObject`; 404 -> undefined.
 * - `put`: `PutObject` up to `multipartThreshold`, above it a multipart upload through
 *   `@aws-sdk/lib-storage`'s `Upload` (`queueSize` parts in flight). Both are atomic for
 *   readers: an object appears whole when `PutObject`/`CompleteMultipartUpload` returns.
 * - `putIfAbsent`: one `PutObject` with `If-None-Match: *` (S3 conditional writes, also in
 *   MinIO): 412 `PreconditionFailed` (and 409 `ConditionalRequestConflict`, a concurrent
 *   conditional write to the same key) -> false. Never a read-then-write. Because the SDK may
 *   retry a request whose first attempt did land (e.g. the response was lost), every
 *   conditional write carries a random token in its metadata; a 412 after a retried request
 *   checks with `HeadObject` whether the object is this call's own, so a lost response never
 *   turns a won claim into a lost one.
 * - `list`: `ListObjectsV2` with `Delimiter: '/'`, paginated; names relative to the prefix,
 *   sorted; zero-byte "folder" marker objects (`key/`, as S3 consoles create) and names no
 *   key could reach (`a//b`, `.`, `..`, backslashes) are hidden.
 * - `delete`: `DeleteObject`, which S3 answers with 204 for a missing key too: idempotent.
 *
 * Errors are `MscrError`s whose message names the operation and the object's URI
 * (`reading s3://b/p/m/1/model.json: access denied (403 AccessDenied) ...`):
 * missing object -> `not_found`; missing bucket, network failures, timeouts, throttling and
 * 5xx -> `unavailable` (retrying may help); bad or unauthorised credentials, a wrong region
 * and other 4xx -> `config` (an operator has to change something). Messages and causes never
 * carry credentials, signatures or signed URLs: the SDK's error (which may hold the string
 * to sign, the signature and the raw response) is replaced by a summary (`S3RequestError`).
 *
 * Configuration follows the AWS SDK's own conventions, so what works with the AWS CLI works
 * here: region from the option, else the SDK chain (`AWS_REGION`, the profile's `region` in
 * `~/.aws/config`), else `us-east-1`; the endpoint from the option, else the SDK reads
 * `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` / the profile's `endpoint_url` itself;
 * credentials from the option, else the SDK's default provider chain (environment, shared
 * files, SSO, web identity for EKS IRSA / pod identity, ECS and EC2 metadata). A custom
 * endpoint defaults to path-style addressing (MinIO and most S3-compatible servers need it).
 * Retries are the SDK's standard mode (`maxAttempts`, default 3, also `AWS_MAX_ATTEMPTS`);
 * connection refused, resets and timeouts are retried, and the connection and idle-socket
 * timeouts are short, so a store that is down fails in seconds, not minutes.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { GetObjectCommandOutput, S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { MscrError, errorMessage } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';
import { validateObjectKey, validateObjectPrefix } from './local-store.ts';
import { parseS3Uri } from './cloud-uri.ts';
import type { S3Location } from './cloud-uri.ts';
import type { ObjectStore } from './object-store.ts';

const MiB = 1024 * 1024;
/** S3's smallest part (all but the last) of a multipart upload. */
export const S3_MIN_PART_SIZE = 5 * MiB;
/** S3's largest single `PutObject` and largest part. */
const S3_MAX_PUT_SIZE = 5 * 1024 * MiB;
const S3_MAX_PARTS = 10_000;

export const DEFAULT_MULTIPART_THRESHOLD = 8 * MiB;
export const DEFAULT_PART_SIZE = 8 * MiB;
export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_CONNECTION_TIMEOUT_MS = 3_000;
export const DEFAULT_SOCKET_TIMEOUT_MS = 30_000;

/** Metadata key (`x-amz-meta-mscr-writer`) of the token a conditional write carries. */
const WRITER_METADATA = 'mscr-writer';

export interface S3StoreOptions {
  /** AWS region. Default: the SDK chain (`AWS_REGION`, the profile's region), else `us-east-1`. */
  region?: string;
  /**
   * Endpoint of an S3-compatible server, e.g. `http://minio:9000`. Default: AWS, or what the
   * SDK reads from `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` or the profile's `endpoint_url`.
   */
  endpoint?: string;
  /**
   * Path-style addressing (`http://host/bucket/key`) instead of virtual-hosted style
   * (`http://bucket.host/key`). Default: true when an endpoint is set (by this option,
   * `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`), else false.
   */
  forcePathStyle?: boolean;
  /** Static credentials or a provider. Default: the SDK's default provider chain. */
  credentials?: S3ClientConfig['credentials'];
  /** Attempts per request, first included (SDK standard retry mode). Default: the SDK's (3, or `AWS_MAX_ATTEMPTS`). */
  maxAttempts?: number;
  /** `put` bodies larger than this many bytes go up as a multipart upload. Default 8 MiB. */
  multipartThreshold?: number;
  /** Part size of multipart uploads, at least 5 MiB (S3's minimum). Default 8 MiB. */
  partSize?: number;
  /** Parts of one multipart upload in flight at once. Default 4. */
  queueSize?: number;
  /** Milliseconds to wait for a TCP (and TLS) connection. Default 3000. */
  connectionTimeout?: number;
  /** Milliseconds a request's socket may stay idle (no byte either way) before it fails. Default 30000. */
  socketTimeout?: number;
  /** `MaxKeys` of one `ListObjectsV2` page (1-1000). Default 1000; smaller only to test paging. */
  listPageSize?: number;
}

export interface S3ObjectStore extends ObjectStore {
  readonly bucket: string;
  /** The key prefix of the store's root inside the bucket: `''` or ending in `/`. */
  readonly prefix: string;
  /**
   * The object as a stream, for large weight files. `not_found` when it does not exist. The
   * stream errors if the connection breaks, or stays idle (unread) longer than `socketTimeout`.
   */
  getStream(key: string): Promise<NodeJS.ReadableStream>;
  /** Closes the client's pooled connections. The store must not be used afterwards. */
  destroy(): void;
}

/** What an S3 request failed with, without anything secret: the `cause` of the `MscrError`s. */
export class S3RequestError extends Error {
  /** HTTP status, when the server answered. */
  readonly status: number | undefined;
  /** S3 error code (`NoSuchKey`, `AccessDenied`, ...) or Node.js error code (`ECONNREFUSED`). */
  readonly s3Code: string | undefined;
  readonly requestId: string | undefined;
  /** Attempts the SDK made, retries included. */
  readonly attempts: number | undefined;

  constructor(
    message: string,
    details: { status?: number; s3Code?: string; requestId?: string; attempts?: number },
  ) {
    super(message);
    this.name = 'S3RequestError';
    this.status = details.status;
    this.s3Code = details.s3Code;
    this.requestId = details.requestId;
    this.attempts = details.attempts;
  }
}

export { parseS3Uri } from './cloud-uri.ts';
export type { S3Location } from './cloud-uri.ts';

type Operation = 'reading' | 'checking' | 'writing' | 'creating' | 'listing' | 'deleting';

/** The duck-typed shape of SDK and Node.js errors (there may be several copies of the SDK). */
interface ErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: unknown; attempts?: unknown; requestId?: unknown };
  $response?: { headers?: Record<string, string | undefined> };
  cause?: unknown;
}

function shapeOf(error: unknown): ErrorShape {
  return typeof error === 'object' && error !== null ? (error as ErrorShape) : {};
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;
const num = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

function statusOf(error: unknown): number | undefined {
  return num(shapeOf(error).$metadata?.httpStatusCode);
}

function attemptsOf(error: unknown): number | undefined {
  return num(shapeOf(error).$metadata?.attempts);
}

/** The S3 error code, or the Node.js error code for network errors. HEAD errors have no body: `NotFound`/`Unknown`. */
function s3CodeOf(error: unknown): string | undefined {
  const shape = shapeOf(error);
  const code = str(shape.Code) ?? str(shape.code) ?? str(shape.name);
  return code === 'Error' || code === 'UnknownError' || code === 'Unknown' ? undefined : code;
}

/** MinIO names the error of a body-less (HEAD) response in a header; S3 does not. */
function minioErrorCode(error: unknown): string | undefined {
  return str(shapeOf(error).$response?.headers?.['x-minio-error-code']);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Network or timeout trouble, here or in a cause: worth another try, `unavailable` when it lasts. */
function isNetworkError(error: unknown, depth = 0): boolean {
  const shape = shapeOf(error);
  if (str(shape.name) === 'TimeoutError') return true;
  const code = str(shape.code);
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  if (str(shape.message) === 'aborted') return true; // IncomingMessage cut off mid-body
  return depth < 5 && shape.cause !== undefined && isNetworkError(shape.cause, depth + 1);
}

/** Removes anything that could be secret from a text that goes into a message. */
function redact(text: string, secrets: readonly string[]): string {
  let out = text
    .replace(/(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"'<]*/gi, '$1<redacted>')
    .replace(/(Signature=)[0-9a-f]{16,}/gi, '$1<redacted>')
    .replace(/(\/\/)[^/@\s]+@/g, '$1<redacted>@');
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('<redacted>');
  }
  return out.length > 300 ? `${out.slice(0, 300)}...` : out;
}

/** `(403 AccessDenied)`, `(404)`, or `` when the server did not answer. */
function tagOf(status: number | undefined, s3Code: string | undefined): string {
  if (status === undefined) return '';
  return s3Code === undefined ? ` (${status})` : ` (${status} ${s3Code})`;
}

interface Classified {
  code: ErrorCode;
  text: string;
}

/** What a 4xx authentication/authorisation code means, and what to do about it. */
const AUTH_PROBLEMS: Record<string, [string, string]> = {
  InvalidAccessKeyId: ['the access key id is not known to the server', 'check the credentials'],
  SignatureDoesNotMatch: ['the request signature does not match', 'check the secret access key'],
  InvalidToken: ['the session token is invalid', 'check the credentials'],
  RequestTimeTooSkewed: ["this machine's clock is too far from the server's", 'sync the clock'],
  AuthorizationHeaderMalformed: ['the request was signed for another region', 'set the region'],
  AllAccessDisabled: ['all access to the bucket is disabled', 'check the bucket'],
  AccountProblem: ["there is a problem with the bucket owner's account", 'check the account'],
};

/** Maps an SDK or network error to an `MscrError` code and a message text (no URI yet). */
function classify(error: unknown, bucket: string, secrets: readonly string[]): Classified {
  const shape = shapeOf(error);
  const status = statusOf(error);
  const s3Code = minioErrorCode(error) ?? s3CodeOf(error);
  const attempts = attemptsOf(error);
  const tag = tagOf(status, s3Code);
  const serverText = redact(str(shape.message) ?? '', secrets);
  const tries = attempts !== undefined && attempts > 1 ? ` after ${attempts} attempts` : '';

  if (s3Code === 'NoSuchBucket') {
    return { code: 'unavailable', text: `the bucket ${bucket} does not exist${tag}` };
  }
  if (status === undefined) {
    if (str(shape.name) === 'CredentialsProviderError') {
      return {
        code: 'config',
        text: `no AWS credentials found (${serverText}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a web identity (IRSA)`,
      };
    }
    if (str(shape.name) === 'TimeoutError') {
      return {
        code: 'unavailable',
        text: `the S3 endpoint did not answer in time${tries}: ${serverText}`,
      };
    }
    if (isNetworkError(error)) {
      // `getaddrinfo ENOTFOUND bucket.host`: virtual-hosted addressing on a server without it.
      const hint = serverText.includes(`ENOTFOUND ${bucket}.`)
        ? ' (virtual-hosted-style address: set forcePathStyle for this endpoint)'
        : '';
      return {
        code: 'unavailable',
        text: `cannot reach the S3 endpoint${tries}: ${serverText}${hint}`,
      };
    }
    return { code: 'unavailable', text: `${serverText || 'request failed'}${tries}` };
  }
  if (
    s3Code === 'NoSuchKey' ||
    (status === 404 && (s3Code === undefined || s3Code === 'NotFound'))
  ) {
    return { code: 'not_found', text: `no such object${tag}` };
  }
  if (s3Code === 'ExpiredToken' || s3Code === 'TokenRefreshRequired') {
    return { code: 'unavailable', text: `the credentials have expired${tag}` };
  }
  const auth = s3Code === undefined ? undefined : AUTH_PROBLEMS[s3Code];
  if (auth !== undefined) return { code: 'config', text: `${auth[0]}${tag}: ${auth[1]}` };
  if (status === 401 || status === 403) {
    return {
      code: 'config',
      text: `access denied${tag}: check the credentials and the bucket policy`,
    };
  }
  if (status === 301 || status === 307 || s3Code === 'PermanentRedirect') {
    return {
      code: 'config',
      text: `the bucket ${bucket} is in another region or behind another endpoint${tag}: set the region`,
    };
  }
  if (status === 412) return { code: 'conflict', text: `a precondition failed${tag}` };
  if (
    status === 408 ||
    status === 409 ||
    status === 429 ||
    status >= 500 ||
    s3Code === 'RequestTimeout' ||
    s3Code === 'SlowDown'
  ) {
    return {
      code: 'unavailable',
      text: `the server could not handle the request now${tag}${tries}: ${serverText}`,
    };
  }
  return { code: 'config', text: `the server refused the request${tag}: ${serverText}` };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function contentTypeOf(key: string): string {
  return key.endsWith('.json') ? 'application/json' : 'application/octet-stream';
}

function checkSize(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MscrError(
      'config',
      `S3 store option ${name} must be an integer from ${min} to ${max}; got ${String(value)}`,
    );
  }
}

function checkEndpoint(endpoint: string): void {
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new MscrError(
      'config',
      `S3 store option endpoint must be an http:// or https:// URL; got ${JSON.stringify(redact(endpoint, []))}`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new MscrError(
      'config',
      'S3 store option endpoint must not contain credentials: use the credentials option or the AWS environment',
    );
  }
}

/** The SDK's region chain (env, profile), falling back to `us-east-1` instead of failing. */
function defaultRegion(): () => Promise<string> {
  // A throwaway client resolves nothing until asked; it is only used for its region provider.
  const probe = new S3Client({});
  const chain = probe.config.region;
  probe.destroy();
  return async () => {
    try {
      return (await chain()) || DEFAULT_REGION;
    } catch {
      return DEFAULT_REGION;
    }
  };
}

function staticSecrets(credentials: S3StoreOptions['credentials']): string[] {
  if (typeof credentials !== 'object' || credentials === null) return [];
  return [credentials.secretAccessKey, credentials.sessionToken].filter(
    (s): s is string => typeof s === 'string',
  );
}

class S3Store implements S3ObjectStore {
  readonly uri: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly listPageSize: number;
  private readonly bodyAttempts: number;
  private readonly secrets: readonly string[];

  constructor(location: S3Location, options: S3StoreOptions) {
    this.uri = location.uri;
    this.bucket = location.bucket;
    this.prefix = location.prefix;
    checkSize('multipartThreshold', options.multipartThreshold, 0, S3_MAX_PUT_SIZE);
    checkSize('partSize', options.partSize, S3_MIN_PART_SIZE, S3_MAX_PUT_SIZE);
    checkSize('queueSize', options.queueSize, 1, 64);
    checkSize('maxAttempts', options.maxAttempts, 1, 20);
    checkSize('connectionTimeout', options.connectionTimeout, 1, 10 * 60_000);
    checkSize('socketTimeout', options.socketTimeout, 1, 60 * 60_000);
    checkSize('listPageSize', options.listPageSize, 1, 1000);
    this.multipartThreshold = options.multipartThreshold ?? DEFAULT_MULTIPART_THRESHOLD;
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.queueSize = options.queueSize ?? 4;
    this.listPageSize = options.listPageSize ?? 1000;
    this.bodyAttempts = options.maxAttempts ?? 3;
    this.secrets = staticSecrets(options.credentials);

    if (options.endpoint !== undefined) checkEndpoint(options.endpoint);
    // The SDK reads these itself (empty counts as unset); they only decide the addressing here.
    const endpointFromEnv = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL;
    const hasEndpoint = options.endpoint !== undefined || (endpointFromEnv ?? '') !== '';
    const config: S3ClientConfig = {
      region:
        options.region !== undefined && options.region !== '' ? options.region : defaultRegion(),
      forcePathStyle: options.forcePathStyle ?? hasEndpoint,
      followRegionRedirects: true,
      requestHandler: {
        connectionTimeout: options.connectionTimeout ?? DEFAULT_CONNECTION_TIMEOUT_MS,
        socketTimeout: options.socketTimeout ?? DEFAULT_SOCKET_TIMEOUT_MS,
      },
    };
    if (options.endpoint !== undefined) config.endpoint = options.endpoint;
    if (options.credentials !== undefined) config.credentials = options.credentials;
    if (options.maxAttempts !== undefined) config.maxAttempts = options.maxAttempts;
    this.client = new S3Client(config);
  }

  destroy(): void {
    this.client.destroy();
  }

  /** The URI of one object (or prefix), for messages. */
  private uriOf(key: string): string {
    return key === '' ? this.uri : `${this.uri}/${key}`;
  }

  private keyOf(key: string): string {
    validateObjectKey(key);
    return this.prefix + key;
  }

  private failure(operation: Operation, key: string, error: unknown): MscrError {
    if (error instanceof MscrError) return error;
    const { code, text } = classify(error, this.bucket, this.secrets);
    const shape = shapeOf(error);
    const cause = new S3RequestError(
      redact(`${str(shape.name) ?? 'Error'}: ${str(shape.message) ?? ''}`, this.secrets),
      {
        status: statusOf(error),
        s3Code: minioErrorCode(error) ?? s3CodeOf(error),
        requestId: str(shape.$metadata?.requestId),
        attempts: attemptsOf(error),
      },
    );
    return new MscrError(code, `${operation} ${this.uriOf(key)}: ${text}`, { cause });
  }

  private async getObject(key: string): Promise<GetObjectCommandOutput> {
    const Key = this.keyOf(key);
    try {
      return await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
    } catch (error) {
      throw this.failure('reading', key, error);
    }
  }

  async get(key: string): Promise<Uint8Array> {
    for (let attempt = 1; ; attempt++) {
      const output = await this.getObject(key);
      try {
        if (output.Body === undefined) throw new Error('the response has no body');
        const bytes = await output.Body.transformToByteArray();
        const expected = output.ContentLength;
        if (expected !== undefined && bytes.byteLength !== expected) {
          throw Object.assign(
            new Error(`the body ended after ${bytes.byteLength} of ${expected} bytes`),
            { code: 'ERR_STREAM_PREMATURE_CLOSE' },
          );
        }
        return bytes;
      } catch (error) {
        if (!isNetworkError(error)) throw this.failure('reading', key, error);
        if (attempt >= this.bodyAttempts) {
          throw new MscrError(
            'unavailable',
            `reading ${this.uriOf(key)}: the download broke off ${attempt} times: ${redact(errorMessage(error), this.secrets)}`,
            {
              cause: new S3RequestError(redact(errorMessage(error), this.secrets), {
                attempts: attempt,
              }),
            },
          );
        }
        await sleep(50 * 2 ** attempt * Math.random());
      }
    }
  }

  async getStream(key: string): Promise<NodeJS.ReadableStream> {
    const output = await this.getObject(key);
    if (!(output.Body instanceof Readable)) {
      throw new MscrError(
        'internal',
        `reading ${this.uriOf(key)}: the SDK returned no Node.js stream`,
      );
    }
    return output.Body;
  }

  async stat(key: string): Promise<{ size: number } | undefined> {
    const Key = this.keyOf(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { size: head.ContentLength ?? 0 };
    } catch (error) {
      if (statusOf(error) === 404 && minioErrorCode(error) !== 'NoSuchBucket') return undefined;
      throw this.failure('checking', key, error);
    }
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const Key = this.keyOf(key);
    const params = {
      Bucket: this.bucket,
      Key,
      Body: body,
      ContentType: contentTypeOf(key),
    };
    try {
      if (body.byteLength <= this.multipartThreshold && body.byteLength <= S3_MAX_PUT_SIZE) {
        await this.client.send(new PutObjectCommand({ ...params, ContentLength: body.byteLength }));
        return;
      }
      const upload = new Upload({
        client: this.client,
        params,
        partSize: Math.max(this.partSize, Math.ceil(body.byteLength / S3_MAX_PARTS)),
        queueSize: this.queueSize,
        leavePartsOnError: false, // abort the multipart upload on failure
      });
      await upload.done();
    } catch (error) {
      throw this.failure('writing', key, error);
    }
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    const Key = this.keyOf(key);
    if (body.byteLength > S3_MAX_PUT_SIZE) {
      throw new MscrError(
        'bad_request',
        `creating ${this.uriOf(key)}: a conditional write is one PutObject, at most 5 GiB`,
      );
    }
    const token = randomUUID();
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body: body,
          ContentLength: body.byteLength,
          ContentType: contentTypeOf(key),
          IfNoneMatch: '*',
          Metadata: { [WRITER_METADATA]: token },
        }),
      );
      return true;
    } catch (error) {
      const status = statusOf(error);
      const lostRace =
        status === 412 || (status === 409 && s3CodeOf(error) === 'ConditionalRequestConflict');
      if (!lostRace) throw this.failure('creating', key, error);
      // Only a retried request can have been beaten by its own earlier attempt.
      const attempts = attemptsOf(error);
      if (attempts !== undefined && attempts <= 1) return false;
      return await this.writtenBy(key, Key, token);
    }
  }

  /** Whether the object at `Key` is the one a conditional write with `token` created. */
  private async writtenBy(key: string, Key: string, token: string): Promise<boolean> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return head.Metadata?.[WRITER_METADATA] === token;
    } catch (error) {
      if (statusOf(error) === 404) return false; // the winner's object is gone again: still lost
      throw this.failure('creating', key, error);
    }
  }

  async list(prefix: string): Promise<{ objects: string[]; prefixes: string[] }> {
    validateObjectPrefix(prefix);
    const full = this.prefix + prefix;
    const objects: string[] = [];
    const prefixes: string[] = [];
    const reachable = (name: string): boolean =>
      name !== '' && name !== '.' && name !== '..' && !name.includes('\\');
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: full === '' ? undefined : full,
            Delimiter: '/',
            MaxKeys: this.listPageSize,
            ContinuationToken: token,
          }),
        );
        for (const item of page.Contents ?? []) {
          const name = item.Key?.slice(full.length);
          if (item.Key?.startsWith(full) === true && name !== undefined && reachable(name)) {
            objects.push(name);
          }
        }
        for (const item of page.CommonPrefixes ?? []) {
          const name = item.Prefix?.slice(full.length);
          if (item.Prefix?.startsWith(full) === true && name !== undefined) {
            if (reachable(name.slice(0, -1))) prefixes.push(name);
          }
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (error) {
      throw this.failure('listing', prefix, error);
    }
    objects.sort();
    prefixes.sort();
    return { objects, prefixes };
  }

  async delete(key: string): Promise<void> {
    const Key = this.keyOf(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (error) {
      if (statusOf(error) === 404 && s3CodeOf(error) !== 'NoSuchBucket') return;
      throw this.failure('deleting', key, error);
    }
  }
}

/**
 * An object store over `s3://bucket[/prefix]`. Creating it makes no request; configuration
 * errors (bad URI, bad options) throw `MscrError('config')` at once, everything else on use.
 */
export function createS3ObjectStore(uri: string, options: S3StoreOptions = {}): S3ObjectStore {
  return new S3Store(parseS3Uri(uri), options);
}
