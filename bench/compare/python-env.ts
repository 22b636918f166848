/**
 * The bench-only Python environment of the competitor (bench/kserve_server.py): the KServe
 * model server and TensorFlow CPU, pinned, in a virtual environment cached outside the
 * repository (like scripts/setup-python.mjs does for the test tools) and linked as
 * .tools/venv-bench. Installed on first use (~700 MB, a few minutes); later runs reuse it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { root } from '../harness.ts';

export const BENCH_PYTHON_PACKAGES = ['kserve==0.21.0', 'tensorflow-cpu==2.21.0'];
const CHECK = 'import kserve, tensorflow, keras';

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error) {
    throw new Error(`${command} could not run (${result.error.message}): install Python 3.11+`);
  }
  if (result.status !== 0) {
    const text = (result.stderr || result.stdout).split('\n').slice(-20).join('\n');
    throw new Error(`${command} ${args.join(' ')} failed:\n${text}`);
  }
  return result.stdout;
}

/** Installs the environment when missing; returns its python and how long that took. */
export function ensureBenchPython(log: (line: string) => void): {
  python: string;
  installSeconds: number;
} {
  const cache = path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'mscr');
  const key = BENCH_PYTHON_PACKAGES.join(' ').replace(/[^\w.=-]+/g, '_');
  const venv = path.join(cache, 'python', key);
  const python = path.join(venv, 'bin', 'python');
  const started = Date.now();
  const ready = () =>
    existsSync(python) && spawnSync(python, ['-c', CHECK], { stdio: 'ignore' }).status === 0;
  if (!ready()) {
    log(`installing ${BENCH_PYTHON_PACKAGES.join(', ')} into ${venv} (once; a few minutes) ...`);
    rmSync(venv, { recursive: true, force: true });
    mkdirSync(venv, { recursive: true });
    run('python3', ['-m', 'venv', venv]);
    run(python, [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      ...BENCH_PYTHON_PACKAGES,
    ]);
    if (!ready()) throw new Error(`${venv}: "${CHECK}" fails after the install`);
  }
  const link = path.join(root, '.tools', 'venv-bench');
  let linked = false;
  try {
    linked = lstatSync(link).isSymbolicLink();
  } catch {
    linked = false;
  }
  if (!linked) {
    mkdirSync(path.dirname(link), { recursive: true });
    rmSync(link, { force: true });
    symlinkSync(venv, link);
  }
  return { python, installSeconds: Math.round((Date.now() - started) / 1000) };
}
