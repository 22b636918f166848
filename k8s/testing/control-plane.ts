/**
 * A real Kubernetes control plane for tests, without Docker or nodes: etcd, kube-apiserver
 * and optionally kube-controller-manager (built by scripts/setup-kube.mjs into .tools/bin),
 * on free loopback ports, with generated certificates, RBAC authorization, a ServiceAccount
 * token signing key and an admin kubeconfig. The flags follow controller-runtime's envtest
 * (pkg/internal/testing/controlplane), plus client-certificate auth and the token signer so
 * that ServiceAccount tokens and impersonation work as in a cluster.
 *
 * No kubelet and no scheduler: pods are stored but never run.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generatePki } from './certs.ts';
import type { CertPair, Pki } from './certs.ts';
import { freePort } from '../../tests/loopback.ts';
import { errorMessage } from '../../connectors/errors.ts';

const root = resolve(import.meta.dirname, '..', '..');
export const KUBE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager'] as const;
type Binary = (typeof KUBE_BINARIES)[number];

export function binaryPath(name: Binary): string {
  return join(root, '.tools', 'bin', name);
}

/** Binaries missing from .tools/bin (`node scripts/setup-kube.mjs` builds them). */
export function missingBinaries(): Binary[] {
  return KUBE_BINARIES.filter((name) => !existsSync(binaryPath(name)));
}

export interface ControlPlaneOptions {
  /** Start kube-controller-manager with these controllers (e.g. ['cronjob-controller']). */
  controllers?: string[];
  /** How long to wait for etcd and the API server to be ready; default 120 s. */
  startTimeoutMs?: number;
}

/** Who a kubeconfig authenticates as. */
export type KubeUser = { kind: 'admin'; impersonate?: string } | { kind: 'token'; token: string };

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  /** The folder with certificates, kubeconfigs, data and logs (removed by stop()). */
  dir: string;
  pki: Pki;
  /** A kubeconfig of an admin (system:masters) client certificate. */
  kubeconfig: string;
  /** Writes a kubeconfig for `user` (default namespace `namespace`) and returns its path. */
  writeKubeconfig(name: string, user: KubeUser, namespace?: string): string;
  /** The last lines of a component's log, for failure messages. */
  logTail(name: Binary, lines?: number): string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET over HTTPS with the admin client certificate; resolves the status code (0 on error). */
function probe(url: string, pki: Pki): Promise<number> {
  return new Promise((resolveStatus) => {
    const req = request(url, {
      ca: readFileSync(pki.ca.cert),
      cert: readFileSync(pki.admin.cert),
      key: readFileSync(pki.admin.key),
      timeout: 5000,
    });
    req.on('response', (res) => {
      res.resume();
      resolveStatus(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveStatus(0));
    req.end();
  });
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return res.ok;
  } catch {
    return false;
  }
}

function kubeconfigJson(server: string, caFile: string, user: object, namespace: string): string {
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'mscr-test', cluster: { server, 'certificate-authority': caFile } }],
      users: [{ name: 'user', user }],
      contexts: [{ name: 'mscr-test', context: { cluster: 'mscr-test', user: 'user', namespace } }],
      'current-context': 'mscr-test',
    },
    null,
    2,
  );
}

function userEntry(pki: Pki, user: KubeUser): object {
  if (user.kind === 'token') return { token: user.token };
  const admin: CertPair = pki.admin;
  return {
    'client-certificate': admin.cert,
    'client-key': admin.key,
    ...(user.impersonate ? { as: user.impersonate } : {}),
  };
}

/**
 * Starts the control plane, again (up to three times) when a component finds its port taken:
 * a port is free when chosen, but until the component binds it, the kernel may hand it out
 * as the source port of another connection (etcd's clients, for one).
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startControlPlaneOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test(errorMessage(error))) throw error;
    }
  }
}

async function startControlPlaneOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
  const missing = missingBinaries();
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(', ')} in .tools/bin: run \`node scripts/setup-kube.mjs\``,
    );
  }
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const dir = mkdtempSync(join(tmpdir(), 'mscr-kube-'));
  const children = new Map<Binary, ChildProcess>();
  const exited = new Map<Binary, string>();
  const logPath = (name: Binary) => join(dir, `${name}.log`);
  const logTail = (name: Binary, lines = 30) => {
    if (!existsSync(logPath(name))) return '';
    return readFileSync(logPath(name), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  };
  const killAll = () => {
    for (const child of children.values()) if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killAll);

  function start(name: Binary, args: string[]): void {
    const log = openSync(logPath(name), 'a');
    const child = spawn(binaryPath(name), args, { stdio: ['ignore', log, log] });
    closeSync(log);
    child.on('exit', (code, signal) => exited.set(name, `exited with ${signal ?? code}`));
    children.set(name, child);
  }

  async function until(name: Binary, ready: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await ready())) {
      const state = exited.get(name);
      if (state || Date.now() > deadline) {
        throw new Error(
          `${name} ${state ?? `was not ready within ${timeoutMs / 1000} s`}; its log ends:\n${logTail(name)}`,
        );
      }
      await sleep(250);
    }
  }

  async function stop(): Promise<void> {
    process.removeListener('exit', killAll);
    // Reverse order: controllers first, etcd last.
    for (const name of [...children.keys()].reverse()) {
      const child = children.get(name);
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  }

  try {
    const pki = generatePki(dir);
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    start('etcd', [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    await until('etcd', () => httpOk(`${etcdUrl}/health`));

    const server = `https://127.0.0.1:${apiPort}`;
    mkdirSync(join(dir, 'apiserver'));
    start('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver')}`,
      `--tls-cert-file=${pki.apiserver.cert}`,
      `--tls-private-key-file=${pki.apiserver.key}`,
      `--client-ca-file=${pki.ca.cert}`,
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${pki.serviceAccount.pub}`,
      `--service-account-signing-key-file=${pki.serviceAccount.key}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      // The `kubernetes` Service's endpoints may not point at loopback: keep none.
      '--endpoint-reconciler-type=none',
    ]);
    await until('kube-apiserver', async () => (await probe(`${server}/readyz`, pki)) === 200);

    const writeKubeconfig = (name: string, user: KubeUser, namespace = 'default') => {
      const path = join(dir, `${name}.kubeconfig`);
      writeFileSync(path, kubeconfigJson(server, pki.ca.cert, userEntry(pki, user), namespace), {
        mode: 0o600,
      });
      return path;
    };
    const kubeconfig = writeKubeconfig('admin', { kind: 'admin' });

    if (options.controllers?.length) {
      start('kube-controller-manager', [
        `--kubeconfig=${kubeconfig}`,
        `--controllers=${options.controllers.join(',')}`,
        '--leader-elect=false',
        '--secure-port=0',
        '--use-service-account-credentials=false',
      ]);
      await sleep(1000);
      const state = exited.get('kube-controller-manager');
      if (state) {
        throw new Error(`kube-controller-manager ${state}:\n${logTail('kube-controller-manager')}`);
      }
    }
    return { server, dir, pki, kubeconfig, writeKubeconfig, logTail, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
