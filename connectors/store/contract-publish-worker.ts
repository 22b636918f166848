/**
 * Child process of the model store contract's multi-process publish test.
 *
 * Usage: node --import tsx contract-publish-worker.ts <store-uri> <model> <count>
 *
 * Opens the store, prints `ready`, waits for a line on stdin (so all workers start
 * publishing at the same moment), publishes <count> versions at once, then prints
 * `{"versions": [...]}` and exits.
 */
import { createInterface } from 'node:readline';
import { errorMessage } from '../errors.ts';
import { sampleDraft, sampleFiles } from './contract-fixtures.ts';
import { openStore } from './index.ts';

const [uri, model, countText] = process.argv.slice(2);
if (uri === undefined || model === undefined || countText === undefined) {
  console.error('usage: contract-publish-worker.ts <store-uri> <model> <count>');
  process.exit(2);
}
const count = Number(countText);
const store = openStore(uri);

const lines = createInterface({ input: process.stdin });
const go = new Promise<void>((resolve) => lines.once('line', () => resolve()));
process.stdout.write('ready\n');
await go;
lines.close();

try {
  const manifests = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      store.publish(sampleDraft(model), sampleFiles(`pid${process.pid}-${i}`)),
    ),
  );
  process.stdout.write(`${JSON.stringify({ versions: manifests.map((m) => m.version) })}\n`);
} catch (error) {
  console.error(`publish failed: ${errorMessage(error)}`);
  process.exit(1);
}
