/**
 * Opening a model store from a URI: the adapter is chosen by scheme.
 *
 *     file:///srv/models, file://./models, ./models, /srv/models   local folder
 *     s3://bucket/prefix                                           S3 or S3-compatible
 *     gs://bucket/prefix                                           Google Cloud Storage
 *
 * Cloud stores are configured the way their SDKs are: the default credential chains
 * (environment, profile or mounted key file, IRSA / workload identity), `AWS_REGION`,
 * `AWS_ENDPOINT_URL[_S3]` for MinIO or Ceph, `STORAGE_EMULATOR_HOST` for a GCS emulator.
 * Two settings of mscr's own: `MSCR_S3_FORCE_PATH_STYLE` (true/false; default true when an
 * endpoint is set) and `MSCR_GCS_ENDPOINT` (a GCS API endpoint, e.g. Private Service Connect).
 */
import { MscrError } from '../errors.ts';
import { trimTrailing } from '../text.ts';
import { parseGcsUri, parseS3Uri } from './cloud-uri.ts';
import { createContentCache } from './content-cache.ts';
import { lazyObjectStore } from './lazy-store.ts';
import { createLocalObjectStore } from './local-store.ts';
import { createModelStore } from './model-store.ts';
import type { ModelStore } from './model-store.ts';

import type { ObjectStore } from './object-store.ts';

export type { ObjectStore };
export type { AliasRecord, ModelStore, ModelStoreOptions, VersionStatus } from './model-store.ts';
export type { ContentCache } from './content-cache.ts';
export { createContentCache } from './content-cache.ts';
export {
  ALIASES_FOLDER,
  CLAIM_FILE,
  LATEST,
  createModelStore,
  sha256Hex,
  validateAliasName,
  versionOfFolder,
} from './model-store.ts';
export { createLocalObjectStore, validateObjectKey, validateObjectPrefix } from './local-store.ts';

export const SUPPORTED_SCHEMES = ['file://', 's3://', 'gs://'] as const;

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/** The scheme of a store URI (`file`, `s3`, ...), or undefined for a plain path. */
function schemeOf(uri: string): string | undefined {
  return SCHEME.exec(uri)?.[1]?.toLowerCase();
}

/** `FILE://x` -> `file://x`; plain paths unchanged. */
function withLowerScheme(uri: string): string {
  const match = SCHEME.exec(uri);
  return match?.[1] === undefined ? uri : `${match[1].toLowerCase()}${uri.slice(match[1].length)}`;
}

/** Environment variables of mscr's own that the cloud adapters read (the SDKs read theirs). */
export const STORE_ENV_VARS = {
  s3ForcePathStyle: 'MSCR_S3_FORCE_PATH_STYLE',
  gcsEndpoint: 'MSCR_GCS_ENDPOINT',
} as const;

function booleanSetting(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const text = env[name]?.trim().toLowerCase();
  if (text === undefined || text === '') return undefined;
  if (['true', '1', 'yes'].includes(text)) return true;
  if (['false', '0', 'no'].includes(text)) return false;
  throw new MscrError('config', `${name} must be true or false, not ${JSON.stringify(env[name])}`);
}

/**
 * The object store at a `file://`, `s3://` or `gs://` URI, or a plain folder path: what
 * `openStore` builds its model store on. `env` is where mscr's own settings are read.
 */
export function openObjectStore(
  uri: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { createRoot?: boolean } = {},
): ObjectStore {
  if (typeof uri !== 'string' || uri.trim() === '') {
    throw new MscrError(
      'config',
      `no model store given: use a folder path or one of ${SUPPORTED_SCHEMES.join(', ')}`,
    );
  }
  const scheme = schemeOf(uri);
  switch (scheme) {
    case undefined:
    case 'file':
      return createLocalObjectStore(withLowerScheme(uri), options);
    case 's3': {
      // Everything that can be wrong without a request is refused now, the SDK loads later.
      const location = parseS3Uri(withLowerScheme(uri));
      const forcePathStyle = booleanSetting(env, STORE_ENV_VARS.s3ForcePathStyle);
      return lazyObjectStore(location.uri, async () => {
        const { createS3ObjectStore } = await import('./s3-store.ts');
        return createS3ObjectStore(location.uri, {
          ...(forcePathStyle === undefined ? {} : { forcePathStyle }),
        });
      });
    }
    case 'gs': {
      const location = parseGcsUri(withLowerScheme(uri));
      const apiEndpoint = env[STORE_ENV_VARS.gcsEndpoint]?.trim();
      return lazyObjectStore(location.uri, async () => {
        const { createGcsObjectStore } = await import('./gcs-store.ts');
        return createGcsObjectStore(location.uri, apiEndpoint ? { apiEndpoint } : {});
      });
    }
    default:
      throw new MscrError(
        'config',
        `unsupported model store ${JSON.stringify(uri)}: supported are ${SUPPORTED_SCHEMES.join(', ')} or a plain folder path`,
      );
  }
}

export interface OpenStoreOptions {
  /** Where mscr's own store settings are read. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * A folder for the content cache (files kept by sha256, read once per cache): worth it for
   * `s3://` and `gs://` stores, pointless for a local folder. Default: no cache.
   */
  cacheDir?: string;
  /** Most bytes the cache keeps (default 4 GiB). */
  cacheMaxBytes?: number;
}

/** Opens the model store at a `file://`, `s3://` or `gs://` URI, or a plain folder path. */
export function openStore(uri: string, options: OpenStoreOptions = {}): ModelStore {
  const objects = openObjectStore(uri, options.env);
  const { cacheDir, cacheMaxBytes } = options;
  if (cacheDir === undefined || cacheDir === '') return createModelStore(objects);
  const cache = createContentCache({
    dir: cacheDir,
    ...(cacheMaxBytes === undefined ? {} : { maxBytes: cacheMaxBytes }),
  });
  return createModelStore(objects, { cache });
}

/** Whether a store URI names a cloud store (worth a local content cache). */
export function isRemoteStore(uri: string): boolean {
  const scheme = schemeOf(uri);
  return scheme === 's3' || scheme === 'gs';
}

/**
 * A store location as an absolute URI for display: plain paths and `file://` URIs become
 * `file:///abs/path`; other URIs are returned without a trailing slash.
 */
export function storeUriOf(pathOrUri: string): string {
  const scheme = schemeOf(pathOrUri);
  if (scheme !== undefined && scheme !== 'file') return trimTrailing(pathOrUri, '/');
  return createLocalObjectStore(withLowerScheme(pathOrUri)).uri;
}
