/** The real helm binary against a test control plane (test support). */
import { spawnSync } from 'node:child_process';
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
