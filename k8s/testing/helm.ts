/** The real helm binary against a test control plane (test support). */
import { spawn, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
export const HELM_BIN = join(root, '.tools', 'bin', 'helm');
export const CHART_DIR = join(root, 'helm', 'mscr');

/** `helm install <release> helm/mscr -n <namespace> --create-namespace`; throws helm's stderr. */
export function installChart(
  kubeconfig: string,
  release: string,
  namespace: string,
  args: string[] = [],
): void {
  const result = spawnSync(
    HELM_BIN,
    [
      'install',
      release,
      CHART_DIR,
      '-n',
      namespace,
      '--create-namespace',
      '--kubeconfig',
      kubeconfig,
      ...args,
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0)
    throw new Error(`helm install ${release}: ${result.stderr || String(result.error)}`);
}

/**
 * Any helm command against the kubeconfig's cluster, asynchronously (so that load generated in
 * the same process keeps running while `helm upgrade --wait` waits); resolves stdout, rejects
 * with helm's stderr.
 */
export function helm(kubeconfig: string, args: string[], timeoutMs = 900_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(HELM_BIN, [...args, '--kubeconfig', kubeconfig], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(stdout);
      else
        reject(
          new Error(`helm ${args.slice(0, 2).join(' ')} (exit ${code}): ${stderr}\n${stdout}`),
        );
    });
  });
}
