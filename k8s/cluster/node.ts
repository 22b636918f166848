/**
 * The node agents: kubelet and kube-proxy, configured for this host (cgroup v1 with the
 * cgroupfs driver, swap allowed, everything listening on the dummy node address only), with
 * all their files under the cluster's run folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_DOMAIN, DNS_SERVICE_IP, NODE_IP, NODE_NAME, POD_CIDR } from './layout.ts';
import type { Layout } from './layout.ts';
import { startDetached } from './processes.ts';
import type { ProcessRecord } from './state.ts';

/** KubeletConfiguration (kubelet.config.k8s.io/v1beta1) as JSON, which kubelet also reads. */
export function kubeletConfig(layout: Layout, caFile: string): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NODE_IP,
    port: 10250,
    readOnlyPort: 0,
    healthzPort: 0,
    // cgroup v1 host: kubelet 1.35+ refuses it unless told otherwise.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${layout.containerdSocket}`,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: caFile },
    },
    authorization: { mode: 'Webhook' },
    clusterDomain: CLUSTER_DOMAIN,
    clusterDNS: [DNS_SERVICE_IP],
    // Pods with dnsPolicy Default (CoreDNS) get no upstream resolver: nothing is forwarded
    // off the machine.
    resolvConf: join(layout.kubeletRoot, 'resolv.conf'),
    podLogsDir: layout.podLogs,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    // The disk is shared with other work: evict only when it is really full.
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '2%',
      'imagefs.available': '2%',
      'nodefs.inodesFree': '2%',
    },
    imageGCHighThresholdPercent: 98,
    imageGCLowThresholdPercent: 95,
    serializeImagePulls: false,
    // Quick status updates, so the tests see a Ready node and new pods sooner.
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    fileCheckFrequency: '10s',
  };
}

export function startKubelet(layout: Layout, binary: string, kubeconfig: string, caFile: string) {
  mkdirSync(layout.kubeletRoot, { recursive: true });
  mkdirSync(layout.podLogs, { recursive: true });
  writeFileSync(join(layout.kubeletRoot, 'resolv.conf'), '');
  const config = join(layout.kubeletRoot, 'config.json');
  writeFileSync(config, JSON.stringify(kubeletConfig(layout, caFile), null, 2));
  return startDetached(layout.logs, 'kubelet', binary, [
    `--config=${config}`,
    `--kubeconfig=${kubeconfig}`,
    `--root-dir=${layout.kubeletRoot}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${NODE_IP}`,
    '--v=1',
  ]);
}

/** KubeProxyConfiguration: iptables mode, NodePorts on the node address only. */
export function kubeProxyConfig(kubeconfig: string): object {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    mode: 'iptables',
    clusterCIDR: POD_CIDR,
    hostnameOverride: NODE_NAME,
    bindAddress: NODE_IP,
    healthzBindAddress: `${NODE_IP}:10256`,
    metricsBindAddress: `${NODE_IP}:10249`,
    nodePortAddresses: [`${NODE_IP}/32`],
    // Leave the host's conntrack table settings alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    // No NodePorts on 127.0.0.1, so the route_localnet sysctl stays as it is.
    iptables: { localhostNodePorts: false, masqueradeAll: false, syncPeriod: '10s' },
  };
}

export function startKubeProxy(layout: Layout, binary: string, kubeconfig: string): ProcessRecord {
  const dir = join(layout.run, 'kube-proxy');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify(kubeProxyConfig(kubeconfig), null, 2));
  return startDetached(layout.logs, 'kube-proxy', binary, [`--config=${config}`, '--v=1']);
}
