/**
 * The single-node cluster: `startCluster()` tears down what a previous run left, records the
 * host's state, installs the network guard, then starts the node (dummy interface, containerd,
 * control plane, kubelet, kube-proxy, KWOK) and the add-ons (CoreDNS, metrics-server), and
 * waits for a Ready node. `stopCluster()` is teardown.ts.
 *
 * The control plane is k8s/testing/control-plane.ts (the one the API-only tests use), asked
 * for a non-loopback address, kube-scheduler, all controllers, the aggregation layer and
 * detached processes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { startControlPlane } from '../testing/control-plane.ts';
import { issueCert } from '../testing/certs.ts';
import type { Pki } from '../testing/certs.ts';
import {
  API_PORT,
  DUMMY_INTERFACE,
  KUBERNETES_SERVICE_IP,
  NODE_IP,
  NODE_NAME,
  POD_CIDR,
  SERVICE_CIDR,
  clusterLayout,
} from './layout.ts';
import type { Layout } from './layout.ts';
import { externalInterfaces, must, readSysctl, sleep, writeSysctl } from './host.ts';
import { guardInstalled, installGuard } from './guard.ts';
import { writeState } from './state.ts';
import type { HostState } from './state.ts';
import { HOST_PATHS, clusterChains, netnsNames, teardown } from './teardown.ts';
import type { TeardownReport } from './teardown.ts';
import { buildClusterImages } from './images.ts';
import { CONTAINERD, importImages, startContainerd } from './containerd.ts';
import { startKubeProxy, startKubelet } from './node.ts';
import { startKwok } from './kwok.ts';
import { applyObjects, corednsObjects, metricsServerObjects } from './addons.ts';
import { isRunning, logTail } from './processes.ts';

/** Settings kubelet, kube-proxy and the CNI bridge may change; restored by teardown. */
export const SYSCTLS = [
  'vm.overcommit_memory',
  'kernel.panic',
  'kernel.panic_on_oops',
  'net.ipv4.ip_forward',
  'net.ipv4.conf.all.route_localnet',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_tcp_timeout_established',
  'net.netfilter.nf_conntrack_tcp_timeout_close_wait',
];
/** Binaries of .tools/bin the cluster runs (node scripts/setup-kube.mjs builds them). */
export const CLUSTER_BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'kube-proxy',
  'coredns',
  'metrics-server',
  'kwok',
];
/** Host programs (Debian packages: `node scripts/setup-kube.mjs --node`). */
const HOST_PROGRAMS = [CONTAINERD, '/usr/sbin/runc', '/usr/lib/cni/bridge', '/usr/sbin/iptables'];

export interface ClusterOptions {
  /** More image archives (OCI or docker) to import, e.g. from scripts/build-images.mjs. */
  images?: string[];
  /** Start KWOK for simulated nodes; default true. */
  kwok?: boolean;
  /** Wait for CoreDNS and metrics-server to be available; default true. */
  waitForAddons?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface Cluster {
  layout: Layout;
  /** https://<node address>:6443 */
  server: string;
  /** Admin kubeconfig (files in the run folder; `userKubeconfig` has the data inline). */
  kubeconfig: string;
  userKubeconfig: string;
  /** What teardown found wrong (empty when the host was restored completely). */
  stop(): Promise<TeardownReport>;
  logTail(component: string, lines?: number): string;
}

/** Why the cluster cannot start on this host, or null when it can. */
export function missingPrerequisites(layout: Layout = clusterLayout()): string | null {
  if (process.getuid?.() !== 0) return 'the cluster needs root (network, mounts, cgroups)';
  const bins = CLUSTER_BINARIES.filter((b) => !existsSync(join(layout.binDir, b)));
  if (bins.length > 0) {
    return `${bins.join(', ')} not in .tools/bin: run \`node scripts/setup-kube.mjs\``;
  }
  const programs = HOST_PROGRAMS.filter((p) => !existsSync(p));
  if (programs.length > 0) {
    return `${programs.join(', ')} missing: run \`node scripts/setup-kube.mjs --node\` (apt-get)`;
  }
  if (!existsSync('/sys/fs/cgroup')) return 'no /sys/fs/cgroup';
  return null;
}

function recordHost(): HostState {
  return {
    version: 1,
    startedAt: new Date().toISOString(),
    sysctls: Object.fromEntries(SYSCTLS.map((name) => [name, readSysctl(name)])),
    existedBefore: Object.fromEntries(HOST_PATHS.map((p) => [p, existsSync(p)])),
    netnsBefore: netnsNames(),
    chainsBefore: clusterChains(),
    guard: false,
    dummy: false,
    processes: {},
  };
}

/** The front proxy's client certificate (the aggregation layer: metrics.k8s.io). */
function aggregatorArgs(pki: Pki, dir: string): string[] {
  const proxy = issueCert(dir, pki.ca, 'front-proxy-client', '/CN=front-proxy-client', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ]);
  return [
    `--requestheader-client-ca-file=${pki.ca.cert}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-username-headers=X-Remote-User',
    `--proxy-client-cert-file=${proxy.cert}`,
    `--proxy-client-key-file=${proxy.key}`,
    '--enable-aggregator-routing=true',
    // kubectl logs/exec and metrics through the kubelet: the admin certificate.
    `--kubelet-client-certificate=${pki.admin.cert}`,
    `--kubelet-client-key=${pki.admin.key}`,
    '--kubelet-preferred-address-types=InternalIP',
  ];
}

/** A kubeconfig with the certificates inline, usable from anywhere on this machine. */
function inlineKubeconfig(server: string, pki: Pki): string {
  const b64 = (path: string) => readFileSync(path).toString('base64');
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'mscr', cluster: { server, 'certificate-authority-data': b64(pki.ca.cert) } },
      ],
      users: [
        {
          name: 'mscr-admin',
          user: {
            'client-certificate-data': b64(pki.admin.cert),
            'client-key-data': b64(pki.admin.key),
          },
        },
      ],
      contexts: [{ name: 'mscr', context: { cluster: 'mscr', user: 'mscr-admin' } }],
      'current-context': 'mscr',
    },
    null,
    2,
  );
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s`);
    await sleep(1000);
  }
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const layout = clusterLayout();
  const log = options.log ?? (() => {});
  const missing = missingPrerequisites(layout);
  if (missing) throw new Error(missing);
  const previous = await teardown(layout);
  if (previous.found) {
    log(
      `cleaned up a previous run${previous.problems.length ? `: ${previous.problems.join('; ')}` : ''}`,
    );
  }
  const state = recordHost();
  const save = () => writeState(layout.stateFile, state);
  save();
  const stop = () => teardown(layout);
  try {
    const external = externalInterfaces();
    state.guard = true;
    save();
    installGuard(external);
    if (!guardInstalled(external)) throw new Error('the network guard did not install');
    log(
      `guard: ${POD_CIDR}, ${SERVICE_CIDR} and ${NODE_IP} dropped on ${external.join(', ') || '(no default route)'}`,
    );

    state.dummy = true;
    save();
    // A bridge without ports as the dummy interface: this kernel has no dummy driver, and a
    // portless bridge likewise delivers its address locally and drops what is routed into it.
    must('ip', ['link', 'add', DUMMY_INTERFACE, 'type', 'bridge']);
    must('ip', ['addr', 'add', `${NODE_IP}/32`, 'dev', DUMMY_INTERFACE]);
    must('ip', ['link', 'set', DUMMY_INTERFACE, 'up']);
    // Cluster addresses without a more specific route (no pod, no Service rule) end here.
    must('ip', ['route', 'add', POD_CIDR, 'dev', DUMMY_INTERFACE]);
    must('ip', ['route', 'add', SERVICE_CIDR, 'dev', DUMMY_INTERFACE]);
    writeSysctl('net.ipv4.ip_forward', '1');
    mkdirSync(layout.run, { recursive: true });

    log('images: building the single-binary images (cached)');
    const archives = buildClusterImages(layout.images, layout.binDir);
    log('containerd: starting');
    state.processes.containerd = await startContainerd(layout);
    save();
    importImages(layout, [...Object.values(archives), ...(options.images ?? [])]);

    log('control plane: starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler');
    const plane = await startControlPlane({
      dir: layout.controlPlane,
      address: NODE_IP,
      apiPort: API_PORT,
      serviceCidr: SERVICE_CIDR,
      sans: [
        `IP:${NODE_IP}`,
        `IP:${KUBERNETES_SERVICE_IP}`,
        'DNS:kubernetes',
        'DNS:kubernetes.default',
        'DNS:kubernetes.default.svc.cluster.local',
      ],
      controllers: ['*'],
      controllerArgs: [
        // Token and kube-root-ca.crt controllers: the files generatePki wrote.
        `--service-account-private-key-file=${join(layout.controlPlane, 'sa.key')}`,
        `--root-ca-file=${join(layout.controlPlane, 'ca.crt')}`,
      ],
      apiserverArgs: aggregatorArgs,
      scheduler: true,
      detached: true,
    });
    for (const [name, pid] of Object.entries(plane.pids())) {
      const binary = join(layout.binDir, name);
      state.processes[name] = { pid, binary };
    }
    save();
    const kubeconfig = plane.kubeconfig;

    log('node: starting kubelet and kube-proxy');
    state.processes.kubelet = startKubelet(
      layout,
      join(layout.binDir, 'kubelet'),
      kubeconfig,
      plane.pki.ca.cert,
    );
    save();
    state.processes['kube-proxy'] = startKubeProxy(
      layout,
      join(layout.binDir, 'kube-proxy'),
      kubeconfig,
    );
    save();
    if (options.kwok ?? true) {
      state.processes.kwok = startKwok(layout, join(layout.binDir, 'kwok'), kubeconfig);
      save();
    }

    const config = new KubeConfig();
    config.loadFromFile(kubeconfig);
    const core = config.makeApiClient(CoreV1Api);
    const alive = () => {
      for (const name of ['containerd', 'kubelet', 'kube-proxy']) {
        if (!isRunning(state.processes[name]!)) {
          throw new Error(`${name} exited; its log ends:\n${logTail(layout.logs, name)}`);
        }
      }
    };
    await until(
      'node did not become Ready',
      async () => {
        alive();
        const node = await core.readNode({ name: NODE_NAME });
        return !!node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      180_000,
    ).catch((error: Error) => {
      alive();
      throw new Error(`${error.message}; kubelet log ends:\n${logTail(layout.logs, 'kubelet')}`);
    });
    log(`node ${NODE_NAME} is Ready`);

    await applyObjects(kubeconfig, [...corednsObjects(), ...metricsServerObjects()]);
    if (options.waitForAddons ?? true) {
      const apps = config.makeApiClient((await import('@kubernetes/client-node')).AppsV1Api);
      for (const name of ['coredns', 'metrics-server']) {
        await until(
          `${name} was not available`,
          async () => {
            const d = await apps.readNamespacedDeployment({ name, namespace: 'kube-system' });
            return (d.status?.availableReplicas ?? 0) >= 1;
          },
          180_000,
        );
        log(`${name} is available`);
      }
    }

    mkdirSync(dirname(layout.userKubeconfig), { recursive: true });
    writeFileSync(layout.userKubeconfig, inlineKubeconfig(plane.server, plane.pki), {
      mode: 0o600,
    });
    return {
      layout,
      server: plane.server,
      kubeconfig,
      userKubeconfig: layout.userKubeconfig,
      stop,
      logTail: (component, lines) =>
        component in state.processes &&
        !['containerd', 'kubelet', 'kube-proxy', 'kwok'].includes(component)
          ? readLog(join(layout.controlPlane, `${component}.log`), lines)
          : logTail(layout.logs, component, lines),
    };
  } catch (error) {
    const report = await stop();
    if (report.problems.length > 0) {
      throw new Error(`${(error as Error).message}\n(teardown: ${report.problems.join('; ')})`, {
        cause: error,
      });
    }
    throw error;
  }
}

function readLog(path: string, lines = 30): string {
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

export async function stopCluster(): Promise<TeardownReport> {
  return teardown(clusterLayout());
}
