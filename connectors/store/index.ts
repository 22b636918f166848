/**
 * Opening a model store from a URI: the adapter is chosen by scheme.
 *
 *     file:///srv/models, file://./models, ./models, /srv/models   local folder
 *     s3://bucket/prefix                                           S3 (not yet)
 *     gs://bucket/prefix                                           GCS (not yet)
 */
import { MscrError } from '../errors.ts';
import { createLocalObjectStore } from './local-store.ts';
import { createModelStore } from './model-store.ts';
import type { ModelStore } from './model-store.ts';

export type { ObjectStore } from './object-store.ts';
export type { AliasRecord, ModelStore, VersionStatus } from './model-store.ts';
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

/** Opens the model store at a `file://`, `s3://` or `gs://` URI, or a plain folder path. */
export function openStore(uri: string): ModelStore {
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
      return createModelStore(createLocalObjectStore(withLowerScheme(uri)));
    case 's3':
    case 'gs':
      throw new MscrError(
        'config',
        `${scheme}:// model stores are not supported yet (${uri}); use a local folder (file://...) for now`,
      );
    default:
      throw new MscrError(
        'config',
        `unsupported model store ${JSON.stringify(uri)}: supported are ${SUPPORTED_SCHEMES.join(', ')} or a plain folder path`,
      );
  }
}

/**
 * A store location as an absolute URI for display: plain paths and `file://` URIs become
 * `file:///abs/path`; other URIs are returned without a trailing slash.
 */
export function storeUriOf(pathOrUri: string): string {
  const scheme = schemeOf(pathOrUri);
  if (scheme !== undefined && scheme !== 'file') return pathOrUri.replace(/\/+$/, '');
  return createLocalObjectStore(withLowerScheme(pathOrUri)).uri;
}
