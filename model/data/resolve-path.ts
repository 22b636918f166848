/**
 * Where a data loader reads from. Local paths and `file://` URIs today; object-store URIs
 * (`s3://`, `gs://`) get a clear error here, and this is the one place to add them.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MscrError } from '../../connectors/errors.ts';

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;

/** A local path or `file://` URI -> an absolute local path. */
export function resolveDataPath(uriOrPath: string): string {
  if (uriOrPath.trim() === '') {
    throw new MscrError('bad_data', 'data path is empty');
  }
  const scheme = SCHEME.exec(uriOrPath)?.[1]?.toLowerCase();
  if (scheme === undefined) return resolve(uriOrPath);
  if (scheme === 'file') {
    try {
      return fileURLToPath(uriOrPath);
    } catch (error) {
      throw new MscrError('bad_data', `invalid file URI ${uriOrPath}: ${String(error)}`, {
        cause: error,
      });
    }
  }
  if (scheme === 's3' || scheme === 'gs') {
    throw new MscrError(
      'bad_data',
      `${uriOrPath}: ${scheme}:// data is not supported yet by the data loader; copy it to a local folder first (e.g. \`${scheme === 's3' ? 'aws s3 cp --recursive' : 'gcloud storage cp -r'}\`) and pass that path`,
    );
  }
  throw new MscrError(
    'bad_data',
    `${uriOrPath}: unsupported data URI scheme ${scheme}://; use a local path or a file:// URI`,
  );
}
