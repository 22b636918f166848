/** Data arguments that name S3 or GCS locations are copied to a temporary folder first. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { downloadData } from '../connectors/store/download.ts';

/** Local paths for `--data` values, and a cleanup for the copies made. */
export async function localData(
  uris: readonly string[],
): Promise<{ paths: string[]; cleanup(): Promise<void> }> {
  const remote = uris.some((uri) => /^(s3|gs):\/\//i.test(uri));
  if (!remote) return { paths: [...uris], cleanup: async () => undefined };
  const dir = await mkdtemp(path.join(tmpdir(), 'mscr-data-'));
  try {
    const paths: string[] = [];
    for (const [i, uri] of uris.entries()) {
      paths.push(
        /^(s3|gs):\/\//i.test(uri) ? await downloadData(uri, path.join(dir, String(i))) : uri,
      );
    }
    return { paths, cleanup: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
