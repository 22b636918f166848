/** The `mscr` executable as a user runs it, for tests: a child process of bin/mscr.js. */
import { spawn } from 'node:child_process';

/** The executable, for tests that drive a long-running command themselves. */
export const MSCR_BIN = new URL('../bin/mscr.js', import.meta.url).pathname;

export interface MscrRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `mscr args...` to completion. The wasm backend is forced (fast and available
 * everywhere) and MSCR_STORE cleared, so only what the test passes decides the store.
 */
export function runMscr(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<MscrRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MSCR_BIN, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, ...options.env, MSCR_BACKEND: 'wasm', MSCR_STORE: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
