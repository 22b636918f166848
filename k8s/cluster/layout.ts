/**
 * Where the single-node cluster keeps its files and which addresses it uses. Everything the
 * cluster writes at run time lives under one folder of the cache (`run/`, removed by
 * teardown), so nothing of the host's own containerd, kubelet or CNI setup is touched.
 *
 * The address ranges are private and unlikely to meet a real network; the host guard drops
 * every packet to or from them that would leave through an external interface.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const NODE_NAME = 'mscr-node';
/**
 * The dummy interface that carries the node's address (a node IP on loopback is refused): an
 * empty bridge, since this kernel has no dummy driver.
 */
export const DUMMY_INTERFACE = 'mscr0';
/** The node's address, on the dummy interface: the API server and the kubelet listen here. */
export const NODE_IP = '172.30.213.1';
/** Pod addresses of the whole cluster; the real node's pods get POD_SUBNET. */
export const POD_CIDR = '10.213.0.0/16';
export const POD_SUBNET = '10.213.0.0/24';
export const POD_GATEWAY = '10.213.0.1';
export const CNI_BRIDGE = 'mscr-cni0';
/** Simulated (KWOK) nodes and their pods get addresses in here: inside POD_CIDR, so guarded. */
export const KWOK_NODE_IP = '10.213.254.1';
export const KWOK_POD_CIDR = '10.213.200.0/24';
export const SERVICE_CIDR = '10.214.0.0/24';
export const KUBERNETES_SERVICE_IP = '10.214.0.1';
export const DNS_SERVICE_IP = '10.214.0.10';
export const API_PORT = 6443;
export const CLUSTER_DOMAIN = 'cluster.local';
/** Every range the guard keeps off the external interfaces. */
export const GUARDED_RANGES = [POD_CIDR, SERVICE_CIDR, `${NODE_IP}/32`];

export const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface Layout {
  /** ~/.cache/mscr/cluster: the state file and cached images. */
  base: string;
  /** What this run changed on the host (read by teardown, also after a killed run). */
  stateFile: string;
  /** Everything written at run time; removed by teardown. */
  run: string;
  /** Control plane folder (certificates, etcd data, logs). */
  controlPlane: string;
  containerdRoot: string;
  containerdState: string;
  containerdConfig: string;
  containerdSocket: string;
  runcRoot: string;
  cniConfDir: string;
  cniDataDir: string;
  kubeletRoot: string;
  podLogs: string;
  logs: string;
  /** Image archives built here (pause, CoreDNS, metrics-server, busybox); kept between runs. */
  images: string;
  /** The admin kubeconfig `cluster:up` leaves for users. */
  userKubeconfig: string;
  binDir: string;
}

export function clusterLayout(): Layout {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const base = join(cache, 'mscr', 'cluster');
  const run = join(base, 'run');
  return {
    base,
    stateFile: join(base, 'state.json'),
    run,
    controlPlane: join(run, 'control-plane'),
    containerdRoot: join(run, 'containerd', 'root'),
    containerdState: join(run, 'containerd', 'state'),
    containerdConfig: join(run, 'containerd', 'config.toml'),
    containerdSocket: join(run, 'containerd', 'containerd.sock'),
    runcRoot: join(run, 'runc'),
    cniConfDir: join(run, 'cni', 'net.d'),
    cniDataDir: join(run, 'cni', 'ipam'),
    kubeletRoot: join(run, 'kubelet'),
    podLogs: join(run, 'pod-logs'),
    logs: join(run, 'logs'),
    images: join(base, 'images'),
    userKubeconfig: join(repoRoot, '.tools', 'cluster', 'kubeconfig'),
    binDir: join(repoRoot, '.tools', 'bin'),
  };
}
