/** The node itself: guard, kubelet, images, Services through kube-proxy, DNS, metrics, KWOK. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUSYBOX_IMAGE,
  GUARD_CHAIN,
  KWOK_ANNOTATION,
  addresses,
  guardInstalled,
} from '../index.ts';
import { externalInterfaces, run } from '../host.ts';
import { readState } from '../state.ts';
import { NS, busybox, runPod, until } from './fixture.ts';
import type { Fixture } from './fixture.ts';

export function nodeTests(fixture: Fixture): void {
  describe('single-node cluster', { skip: fixture.skip || undefined }, () => {
    test('the guard was installed before the cluster started, on every external interface', () => {
      const state = readState(fixture.layout.stateFile);
      assert.ok(state?.guard, 'the state file records the guard');
      const external = externalInterfaces();
      assert.ok(guardInstalled(external), 'guard chain and hooks in place');
      // The guard's log lines come first: it was installed before containerd and the API server.
      const rules = run('iptables', ['-w', '-t', 'mangle', '-S', GUARD_CHAIN]).stdout;
      for (const iface of external) {
        for (const range of addresses.GUARDED_RANGES) {
          assert.match(
            rules,
            new RegExp(`-d ${range.replace(/[./]/g, '\\$&')} -o ${iface} -j DROP`),
          );
        }
      }
      // Routing keeps cluster addresses off the external interface too.
      for (const address of ['10.214.0.99', '10.213.77.1', addresses.KWOK_NODE_IP]) {
        const route = run('ip', ['route', 'get', address]).stdout;
        for (const iface of external) assert.doesNotMatch(route, new RegExp(`dev ${iface}\\b`));
      }
    });

    test('the node is Ready and runs the pinned kubelet with containerd', async () => {
      const { core } = fixture.kube;
      const node = await core.readNode({ name: addresses.NODE_NAME });
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.status, 'True');
      assert.equal(node.status?.nodeInfo?.kubeletVersion, 'v1.37.2');
      assert.match(node.status?.nodeInfo?.containerRuntimeVersion ?? '', /^containerd:\/\//);
      const ip = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
      assert.equal(ip, addresses.NODE_IP);
    });

    test('a pod from a locally built image runs and its log comes back through the kubelet', async () => {
      const { core } = fixture.kube;
      const log = await runPod(
        core,
        'hello',
        'echo "hello from $(hostname)"; cat /proc/1/cgroup | head -1',
      );
      assert.match(log, /^hello from hello$/m);
    });

    test('a ClusterIP Service answers through kube-proxy, from the host and from a pod', async () => {
      const { core, apps } = fixture.kube;
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
        core,
        'client',
        `wget -qO- http://${clusterIP}/ && wget -qO- http://web/ && wget -qO- http://web.${NS}.svc.cluster.local/`,
      );
      assert.equal(log.match(/served by web-/g)?.length, 3, log);
    });

    test('DNS resolves Service names in pods (and nothing is forwarded off the machine)', async () => {
      const { core } = fixture.kube;
      const log = await runPod(
        core,
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
      const { custom } = fixture.kube;
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
      const { core } = fixture.kube;
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
          node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ||
          undefined
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
}
