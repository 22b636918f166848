/**
 * Where the shared real data (CIFAR-10 images, GOOG prices) lives: `MSCR_SHARED_DATA`, else
 * `../shared/data` beside the checkout, else `/work/shared/data`. Tests that need it fail
 * with this message rather than skip, so a green run always means the real data was used.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const candidates = [
  process.env.MSCR_SHARED_DATA,
  resolve(import.meta.dirname, '../../shared/data'),
  '/work/shared/data',
].filter((c): c is string => typeof c === 'string' && c !== '');

export const sharedDataRoot: string | undefined = candidates.find((c) =>
  existsSync(join(c, 'README.md')),
);

/** Absolute path of a file or folder in the shared data (e.g. `cifar10/train`). */
export function sharedData(relativePath = ''): string {
  if (!sharedDataRoot) {
    throw new Error(
      `the shared test data was not found (tried ${candidates.join(', ')}); set MSCR_SHARED_DATA to its folder`,
    );
  }
  return join(sharedDataRoot, relativePath);
}
