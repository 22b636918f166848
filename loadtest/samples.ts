/**
 * The real payloads the k6 scripts send, bundled under loadtest/samples/ so the scripts run
 * anywhere (a laptop against a cluster has no ../shared/data):
 *
 * - `cat_0003.jpg`: a CIFAR-10 test image, byte-identical to ../shared/data/cifar10/images/
 *   (posted as is to `/mscr/models/{m}/classify`);
 * - `cat_0003.rgb`: the same image decoded by the server's own decoder (sharp) to 32x32x3 HWC
 *   uint8 pixels, from which the scripts build V1 and V2 tensors (k6 cannot decode JPEG);
 * - `goog-window.csv`: the first 9 lines of ../shared/data/stock/goog_daily.csv (2 comment
 *   lines, then 7 days, newest first), posted to `/mscr/models/{m}/forecast`.
 *
 * `node --import tsx loadtest/samples.ts` writes them again; a test checks they match.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage } from '../connectors/ms/decode-image.ts';
import { sharedData } from '../tests/shared-data.ts';

export const samplesDir = join(import.meta.dirname, 'samples');

export interface Samples {
  'cat_0003.jpg': Uint8Array;
  'cat_0003.rgb': Uint8Array;
  'goog-window.csv': Uint8Array;
}

/** The sample files, derived from the shared real data. */
export async function deriveSamples(): Promise<Samples> {
  const jpeg = new Uint8Array(await readFile(sharedData('cifar10/images/cat_0003.jpg')));
  const pixels = await decodeImage(jpeg, { height: 32, width: 32, channels: 3, resize: false });
  const csv = await readFile(sharedData('stock/goog_daily.csv'));
  // The first 9 lines, line endings (CRLF) kept.
  let end = 0;
  for (let line = 0; line < 9; line++) end = csv.indexOf(10, end) + 1;
  return {
    'cat_0003.jpg': jpeg,
    'cat_0003.rgb': pixels,
    'goog-window.csv': new Uint8Array(csv.subarray(0, end)),
  };
}

if (process.argv[1] === import.meta.filename) {
  const samples = await deriveSamples();
  for (const [name, bytes] of Object.entries(samples)) {
    await writeFile(join(samplesDir, name), bytes);
    console.log(`wrote ${join(samplesDir, name)} (${bytes.length} bytes)`);
  }
}
