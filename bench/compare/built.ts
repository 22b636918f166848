/**
 * mscr as it is deployed: the container image runs the JavaScript that `npm run build`
 * compiles (tsc), not the TypeScript through tsx as a source checkout does. tsx's transform
 * adds a little to every closure made per request (esbuild's `__name` wrappers) and loads
 * source maps, so the bench measures the compiled form by default (BENCH_BUILD=0: from
 * source, as `npm start` runs it).
 *
 * The build goes to a folder of its own with the checkout's `node_modules` linked, exactly
 * the layout `bin/mscr.js` looks for (`dist/cli/main.js`), so no `dist/` is left in the
 * checkout for its CLI to pick up later with stale code.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';

/** Compiles `checkout` into `into` and returns `into`, a directory with `bin/mscr.js`. */
export function buildCheckout(checkout: string, into: string): string {
  const tsc = path.join(checkout, 'node_modules/typescript/bin/tsc');
  mkdirSync(into, { recursive: true });
  execFileSync(
    process.execPath,
    [tsc, '-p', path.join(checkout, 'tsconfig.build.json'), '--outDir', path.join(into, 'dist')],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  // What `npm run build` copies beside the code, and what bin/mscr.js and the code read.
  const copies: [string, string][] = [
    ['bin', 'bin'],
    ['package.json', 'package.json'],
    ['client/web/public', 'dist/client/web/public'],
    ['service/grpc/protos', 'dist/service/grpc/protos'],
  ];
  for (const [from, to] of copies) {
    if (existsSync(path.join(checkout, from)))
      cpSync(path.join(checkout, from), path.join(into, to), { recursive: true });
  }
  symlinkSync(path.join(checkout, 'node_modules'), path.join(into, 'node_modules'), 'dir');
  return into;
}
