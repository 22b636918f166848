/** The single-node Kubernetes cluster of the end-to-end tests and `npm run cluster:up`. */
export {
  startCluster,
  stopCluster,
  missingPrerequisites,
  CLUSTER_BINARIES,
  SYSCTLS,
} from './cluster.ts';
export type { Cluster, ClusterOptions } from './cluster.ts';
export { clusterLayout } from './layout.ts';
export * as addresses from './layout.ts';
export { guardInstalled, guardRules, GUARD_CHAIN } from './guard.ts';
export { clusterChains, kubepodsCgroups, teardown } from './teardown.ts';
export type { TeardownReport } from './teardown.ts';
export { BUSYBOX_IMAGE, PAUSE_IMAGE } from './images.ts';
export { importImages } from './containerd.ts';
export { KWOK_ANNOTATION } from './kwok.ts';
