/**
 * Parsing `s3://` and `gs://` store URIs, apart from the adapters so that opening a store
 * can refuse a bad URI at once without loading the cloud SDKs.
 */
import { MscrError, errorMessage } from '../errors.ts';
import { validateObjectKey } from './local-store.ts';

/** A parsed `s3://bucket[/prefix]` URI. */
export interface S3Location {
  bucket: string;
  /** `''` or ending in `/`. */
  prefix: string;
  /** Normalised: `s3://bucket` or `s3://bucket/prefix`, no trailing slash. */
  uri: string;
}

// S3's rules for new buckets are stricter (lowercase, 3-63); older buckets and other servers
// allow uppercase and underscores, so only what can never be a bucket name is refused here.
const S3_BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;

/** Parses `s3://bucket[/prefix][/]`. Throws `MscrError('config')` for anything else. */
export function parseS3Uri(uri: string): S3Location {
  const bad = (why: string): MscrError =>
    new MscrError('config', `invalid S3 store URI ${JSON.stringify(uri)}: ${why}`);
  if (typeof uri !== 'string' || !/^s3:\/\//i.test(uri)) throw bad('expected s3://bucket[/prefix]');
  if (/[?#]/.test(uri)) throw bad('query strings and fragments are not allowed');
  const rest = uri.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  let path = slash === -1 ? '' : rest.slice(slash + 1);
  if (bucket === '') throw bad('no bucket');
  if (!S3_BUCKET_NAME.test(bucket)) {
    throw bad(
      `${JSON.stringify(bucket)} is not a bucket name (3-255 letters, digits, '.', '_', '-')`,
    );
  }
  path = path.replace(/\/$/, '');
  if (path !== '') {
    try {
      validateObjectKey(path);
    } catch (error) {
      throw bad(`the prefix ${errorMessage(error)}`);
    }
  }
  return {
    bucket,
    prefix: path === '' ? '' : `${path}/`,
    uri: path === '' ? `s3://${bucket}` : `s3://${bucket}/${path}`,
  };
}

const GCS_BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

/** Splits `gs://bucket[/prefix]` into the bucket and an object-name prefix (`''` or ending in `/`). */
export function parseGcsUri(uri: string): { bucket: string; prefix: string; uri: string } {
  const bad = (why: string): MscrError =>
    new MscrError('config', `invalid GCS store URI ${JSON.stringify(uri)}: ${why}`);
  if (typeof uri !== 'string' || !/^gs:\/\//i.test(uri)) throw bad('expected gs://bucket[/prefix]');
  if (/[?#]/.test(uri)) throw bad('no query or fragment allowed');
  const rest = uri.slice('gs://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  let path = slash < 0 ? '' : rest.slice(slash + 1);
  if (path.endsWith('/')) path = path.slice(0, -1);
  if (
    !GCS_BUCKET_NAME.test(bucket) ||
    bucket.includes('..') ||
    (bucket.includes('.') ? bucket.split('.').some((part) => part.length > 63) : bucket.length > 63)
  ) {
    throw bad(`${JSON.stringify(bucket)} is not a valid bucket name`);
  }
  if (path !== '') {
    try {
      validateObjectKey(path);
    } catch (error) {
      throw bad(`bad prefix: ${errorMessage(error)}`);
    }
  }
  return {
    bucket,
    prefix: path === '' ? '' : `${path}/`,
    uri: path === '' ? `gs://${bucket}` : `gs://${bucket}/${path}`,
  };
}
