/**
 * A real Kubernetes control plane for tests, without Docker or nodes: etcd, kube-apiserver
 * and optionally kube-controller-manager (built by scripts/setup-kube.mjs into .tools/bin),
 * on free loopback ports, with generated certificates, RBAC authorization, a ServiceAccount
 * token signing key and an admin kubeconfig. The flags follow controller-runtime's envtest
 * (pkg/internal/testing/controlplane), plus client-certificate auth and the token signer so
 * that ServiceAccount tokens and impersonation work as in a cluster.
 *
 * No kubelet: pods are stored but never run, unless k8s/cluster/ starts a node against it (it
 * also asks for kube-scheduler, a non-loopback address and detached processes).
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
type Binary = (typeof KUBE_BINARIES)[number] | 'kube-scheduler';

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
  /** Address the API server binds and advertises; default 127.0.0.1. */
  address?: string;
  /** The API server's port; default a free one. */
  apiPort?: number;
  /** --service-cluster-ip-range; default 10.0.0.0/24. */
  serviceCidr?: string;
  /** More subject alternative names of the API server's certificate (`IP:...`, `DNS:...`). */
  sans?: string[];
  /** More kube-apiserver flags, made once the certificates exist. */
  apiserverArgs?: (pki: Pki, dir: string) => string[];
  /** More kube-controller-manager flags. */
  controllerArgs?: string[];
  /** Start kube-scheduler too. */
  scheduler?: boolean;
  /** The folder for everything (created; default a new temporary folder). */
  dir?: string;
  /**
   * Start each process in its own process group and let it outlive this process (a cluster
   * started by `npm run cluster:up` keeps running; `pids()` says what to stop later).
   */
  detached?: boolean;
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
  /** Process ids by component, for stopping a detached control plane from another process. */
  pids(): Record<string, number>;
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
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'mscr-kube-'));
  mkdirSync(dir, { recursive: true });
  const address = options.address ?? '127.0.0.1';
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
  if (!options.detached) process.once('exit', killAll);

  function start(name: Binary, args: string[]): void {
    const log = openSync(logPath(name), 'a');
    const detached = options.detached ?? false;
    const child = spawn(binaryPath(name), args, { stdio: ['ignore', log, log], detached });
    closeSync(log);
    if (detached) child.unref();
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
    const pki = generatePki(dir, options.sans);
    const [etcdPort, peerPort] = [await freePort(), await freePort()];
    const apiPort = options.apiPort ?? (await freePort());
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

    const server = `https://${address}:${apiPort}`;
    mkdirSync(join(dir, 'apiserver'), { recursive: true });
    const loopback = address.startsWith('127.');
    start('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver')}`,
      `--tls-cert-file=${pki.apiserver.cert}`,
      `--tls-private-key-file=${pki.apiserver.key}`,
      `--client-ca-file=${pki.ca.cert}`,
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${pki.serviceAccount.pub}`,
      `--service-account-signing-key-file=${pki.serviceAccount.key}`,
      `--service-cluster-ip-range=${options.serviceCidr ?? '10.0.0.0/24'}`,
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      // The `kubernetes` Service's endpoints may not point at loopback: keep none.
      ...(loopback ? ['--endpoint-reconciler-type=none'] : []),
      ...(options.apiserverArgs?.(pki, dir) ?? []),
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
        ...(options.controllerArgs ?? []),
      ]);
    }
    if (options.scheduler) {
      start('kube-scheduler', [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        '--secure-port=0',
      ]);
    }
    if (options.controllers?.length || options.scheduler) {
      await sleep(1000);
      for (const name of ['kube-controller-manager', 'kube-scheduler'] as const) {
        const state = exited.get(name);
        if (state) throw new Error(`${name} ${state}:\n${logTail(name)}`);
      }
    }
    const pids = () =>
      Object.fromEntries([...children].map(([name, child]) => [name, child.pid ?? 0]));
    return { server, dir, pki, kubeconfig, writeKubeconfig, logTail, pids, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
