/**
 * Starting one inference worker thread (`worker.ts`) for the pool (worker-pool.ts).
 *
 * Workers from TypeScript source (tests, `tsx`): tsx's `--import tsx` hooks register on the
 * main thread only before Node 22.22.3 / 24.11.1 (tsx checks `isMainThread` where Node lacks
 * `isInternalThread`), so on Node 20 `new Worker('worker.ts', { execArgv: ['--import', 'tsx'] })`
 * fails with ERR_UNKNOWN_FILE_EXTENSION. Instead the worker starts from a tiny `data:` module
 * that calls `register()` of `tsx/esm/api` inside the worker and then imports `worker.ts`; the
 * inherited `--import tsx` is dropped so newer Node does not register tsx twice. Compiled
 * (`dist/service/engine/worker-pool.js`) the pool starts `worker.js` directly, without tsx.
 *
 * Flags the process was started with that a Worker refuses (V8 and process-wide ones such as
 * `--max-old-space-size`) are left out of its execArgv: they already hold for every thread.
 */
import { Worker } from 'node:worker_threads';
import type { WorkerInit } from './protocol.ts';

const fromSource = new URL(import.meta.url).pathname.endsWith('.ts');
const workerUrl = new URL(fromSource ? './worker.ts' : './worker.js', import.meta.url);

/** `process.execArgv` without tsx's own loader flags (the bootstrap registers tsx itself). */
function withoutTsx(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const next = argv[i + 1] ?? '';
    if ((arg === '--import' || arg === '--loader' || arg === '--require') && isTsx(next)) i++;
    else if (/^--(import|loader|require)=/.test(arg) && isTsx(arg.slice(arg.indexOf('=') + 1))) {
      continue;
    } else out.push(arg);
  }
  return out;
}

function isTsx(specifier: string): boolean {
  return /^tsx(\/|$)/.test(specifier) || /\/node_modules\/tsx\//.test(specifier);
}

export function createWorker(init: WorkerInit): Worker {
  if (!fromSource) return new Worker(workerUrl, { workerData: init });
  return sourceWorker(workerUrl, init);
}

/**
 * A worker thread running the TypeScript module `file` through tsx (see above), with the
 * process's flags minus tsx's own and minus those a Worker refuses.
 */
export function sourceWorker(file: URL, workerData: unknown): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import { register } from ${JSON.stringify(tsxApi)};\n` +
    `register();\n` +
    `await import(${JSON.stringify(file.href)});\n`;
  const url = new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
  let execArgv = withoutTsx(process.execArgv);
  for (;;) {
    try {
      return new Worker(url, { workerData, execArgv });
    } catch (error) {
      // V8 and process-wide flags (`node --max-old-space-size=4096 --trace-gc ...`) already
      // hold for every thread, and a worker refuses them in its execArgv: leave them out.
      const fewer = withoutRefused(execArgv, error);
      if (fewer === undefined) throw error;
      execArgv = fewer;
    }
  }
}

/**
 * `execArgv` without the flags a Worker refused (`ERR_WORKER_INVALID_EXEC_ARGV` names them),
 * each with its separate value if it has one; undefined when there is nothing to leave out.
 */
export function withoutRefused(execArgv: readonly string[], error: unknown): string[] | undefined {
  if ((error as { code?: unknown } | null)?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV')
    return undefined;
  const message = (error as Error).message;
  const listed = message.slice(message.indexOf('flags: ') + 'flags: '.length);
  const refused = new Set(listed.split(', ').map((flag) => flag.trim()));
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] ?? '';
    if (!refused.has(arg)) out.push(arg);
    else if (!arg.includes('=') && !(execArgv[i + 1] ?? '-').startsWith('-')) i++;
  }
  return out.length < execArgv.length ? out : undefined;
}
