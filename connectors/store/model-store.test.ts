// The model store contract, run against the local folder adapter.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runModelStoreContract } from './contract.ts';
import { createLocalObjectStore } from './local-store.ts';

runModelStoreContract('local folder', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mscr-store-'));
  return {
    store: createLocalObjectStore(dir),
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
});
