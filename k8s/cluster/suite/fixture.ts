/**
 * The one cluster of the end-to-end suite (k8s/cluster/cluster.test.ts): started once for the
 * file (starting costs minutes and only one cluster can run on the machine), its API clients,
 * and the small helpers every group of tests uses. The groups (node, journeys, teardown)
 * live in their own modules and take this fixture; node:test runs files in separate
 * processes, so they are registered by the one test file rather than being files of their own.
 *
 * Network safety: the only addresses contacted are the cluster's own (Service and pod
 * addresses, the dummy node address), after the guard is installed, which the first test
 * checks.
 */
import assert from 'node:assert/strict';
import {
  AppsV1Api,
  AutoscalingV2Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  NetworkingV1Api,
  PolicyV1Api,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import {
  BUSYBOX_IMAGE,
  clusterLayout,
  missingPrerequisites,
  startCluster,
  teardown,
} from '../index.ts';
import type { Cluster } from '../index.ts';
import { hostSnapshot } from '../host-snapshot.ts';
import type { HostSnapshot } from '../host-snapshot.ts';
import { builtImages } from '../journeys.ts';
import type { BuiltImage, Minio } from '../journeys.ts';
import type { Layout } from '../layout.ts';
import { sleep } from '../host.ts';

/** The namespace of the node tests' own pods. */
export const NS = 'mscr-cluster-test';

export interface Clients {
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  autoscaling: AutoscalingV2Api;
  custom: CustomObjectsApi;
  rbac: RbacAuthorizationV1Api;
  policy: PolicyV1Api;
  networking: NetworkingV1Api;
  discovery: DiscoveryV1Api;
}

/** What the serving journeys leave for the ones after them (each needs the ones before). */
export interface ServingState {
  minio?: Minio;
  /** http://<ClusterIP of the release's Service>. */
  url: string;
  /** The release's serving Service. */
  serviceName: string;
  /** http://<service>.<namespace>.svc.cluster.local: the Service as pods reach it. */
  inClusterUrl: string;
  /** A V2 infer body of the right shape for the published model. */
  inferBody: string;
  /** The release's serving pods' label selector. */
  selector: string;
}

export interface Fixture {
  layout: Layout;
  images: Record<string, BuiltImage>;
  /** Set once started; cleared by the teardown test. */
  cluster: Cluster | undefined;
  /** The host before the cluster started, for the teardown tests. */
  hostBefore: HostSnapshot | undefined;
  /** Why the cluster tests are skipped (never under CI), or false. */
  skip: string | false;
  /** Why the journeys are skipped (images missing; never under CI), or false. */
  journeySkip: string | false;
  /** Filled by before(), once the cluster runs. */
  kube: Clients;
  serving: ServingState;
}

/** Polls until check() gives a value other than undefined/false; fails the test on timeout. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  ms = 120_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      assert.fail(`${what} within ${ms / 1000} s${last ? ` (last error: ${String(last)})` : ''}`);
    }
    await sleep(1000);
  }
}

export const busybox = (
  name: string,
  args: string[],
  extra: Partial<V1Pod['spec']> = {},
): V1Pod => ({
  metadata: { name, namespace: NS, labels: { app: name } },
  spec: {
    restartPolicy: 'Never',
    containers: [{ name: 'main', image: BUSYBOX_IMAGE, imagePullPolicy: 'Never', args }],
    ...extra,
  },
});

/** Runs a busybox pod to completion and returns its log; fails when it does not succeed. */
export async function runPod(core: CoreV1Api, name: string, script: string): Promise<string> {
  await core.createNamespacedPod({ namespace: NS, body: busybox(name, ['sh', '-c', script]) });
  const phase = await until(`pod ${name} finished`, async () => {
    const pod = await core.readNamespacedPod({ name, namespace: NS });
    const p = pod.status?.phase;
    return p === 'Succeeded' || p === 'Failed' ? p : undefined;
  });
  const log = await core.readNamespacedPodLog({ name, namespace: NS });
  assert.equal(phase, 'Succeeded', `pod ${name} failed; its log:\n${log}`);
  return log;
}

/** True when the pod is Ready and not being deleted. */
export function podReady(pod: V1Pod): boolean {
  return (
    !pod.metadata?.deletionTimestamp &&
    (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false)
  );
}

/**
 * Starts the cluster for the suite (top-level await in the test file, before any test is
 * registered, so that a cluster that cannot start skips them visibly, or fails under CI).
 */
export async function startFixture(): Promise<Fixture> {
  const layout = clusterLayout();
  // The images of scripts/build-images.mjs (the journeys need mscr, minio and k6).
  const images = builtImages();
  const missingImages = ['mscr', 'minio', 'k6'].filter((name) => !images[name]);
  let journeySkip: string | false = false;
  if (missingImages.length > 0) {
    journeySkip = `images ${missingImages.join(', ')} not built: run \`node scripts/build-images.mjs\``;
    if (process.env.CI)
      throw new Error(`CI is set, so the journeys cannot be skipped: ${journeySkip}`);
  }
  const fixture: Fixture = {
    layout,
    images,
    cluster: undefined,
    hostBefore: undefined,
    skip: false,
    journeySkip,
    kube: undefined as unknown as Clients,
    serving: { url: '', serviceName: '', inClusterUrl: '', inferBody: '', selector: '' },
  };
  const missing = missingPrerequisites(layout);
  let reason: string;
  if (missing) {
    reason = missing;
  } else {
    // A killed earlier run is cleaned first (startCluster would too), so that the snapshot
    // is of the host itself.
    const previous = await teardown(layout);
    if (previous.found)
      console.log(`# cleaned up a killed run: ${previous.problems.join('; ') || 'ok'}`);
    fixture.hostBefore = hostSnapshot(layout);
    try {
      fixture.cluster = await startCluster({
        images: Object.values(images).map((i) => i.archive),
        log: (l) => console.log(`# cluster: ${l}`),
      });
      return fixture;
    } catch (error) {
      reason = `the cluster did not start: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  if (process.env.CI)
    throw new Error(`CI is set, so the cluster tests cannot be skipped: ${reason}`);
  console.warn(`skipping: ${reason}`);
  fixture.skip = reason;
  return fixture;
}

/** The API clients for the user's kubeconfig, and the node tests' namespace. */
export async function connect(fixture: Fixture): Promise<void> {
  if (!fixture.cluster) return;
  const config = new KubeConfig();
  config.loadFromFile(fixture.cluster.userKubeconfig);
  fixture.kube = {
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    batch: config.makeApiClient(BatchV1Api),
    autoscaling: config.makeApiClient(AutoscalingV2Api),
    custom: config.makeApiClient(CustomObjectsApi),
    rbac: config.makeApiClient(RbacAuthorizationV1Api),
    policy: config.makeApiClient(PolicyV1Api),
    networking: config.makeApiClient(NetworkingV1Api),
    discovery: config.makeApiClient(DiscoveryV1Api),
  };
  const { core } = fixture.kube;
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await until('the default ServiceAccount exists', async () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace: NS }),
  );
}
