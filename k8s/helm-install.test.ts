/**
 * `helm install`, `helm upgrade` and `helm uninstall` of the chart against a real
 * kube-apiserver (k8s/testing/control-plane.ts): every ci/*-values.yaml installs, and every
 * object of the release is stored as rendered, after the API server's validation and
 * defaulting. No nodes exist, so nothing runs and helm does not wait for readiness.
 *
 * The ServiceMonitor and HTTPRoute CRDs are registered here with open schemas (their spec
 * is kept as given): the CRD manifests of prometheus-operator and Gateway API are not
 * available offline. helm/chart.test.ts validates those two objects against the real
 * schemas (@kubernetes-models); this file checks that the API server takes them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubernetesObjectApi } from '@kubernetes/client-node';
import { clusterForTests } from './testing/cluster-for-tests.ts';
import {
  assertStoredAsRendered,
  eventually,
  objectApi,
  readObject,
} from './testing/kube-objects.ts';
import type { Loose } from './testing/kube-objects.ts';

const root = resolve(import.meta.dirname, '..');
const chart = join(root, 'helm', 'mscr');
const helmBin = join(root, '.tools', 'bin', 'helm');
const ciFiles = readdirSync(join(chart, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .sort();
const RELEASE = 'demo';
const FULL = `${RELEASE}-mscr`;

const cluster = await clusterForTests();
after(() => cluster.plane?.stop());

function helm(args: string[]): string {
  const plane = cluster.plane;
  assert.ok(plane);
  const result = spawnSync(helmBin, [...args, '--kubeconfig', plane.kubeconfig], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  assert.equal(result.status, 0, `helm ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

function namespaceOf(file: string): string {
  return `ci-${file.replace(/-values\.yaml$/, '')}`;
}

/** The release's objects as helm rendered them (without hooks such as the helm test pod). */
function releaseObjects(namespace: string): Loose[] {
  const manifest = helm(['get', 'manifest', RELEASE, '--namespace', namespace]);
  return parseAllDocuments(manifest)
    .map((doc) => doc.toJS() as Loose | null)
    .filter((o): o is Loose => o !== null);
}

function openCrd(group: string, kind: string, plural: string): Loose {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${plural}.${group}`,
      // Groups under k8s.io need this; "unapproved, ..." is the value for a stand-in.
      annotations: { 'api-approved.kubernetes.io': 'unapproved, mscr test stand-in' },
    },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                // client-node serializes through its typed models, where the property is
                // x_kubernetes_preserve_unknown_fields: a raw key would be dropped.
                spec: { type: 'object', x_kubernetes_preserve_unknown_fields: true },
              },
            },
          },
        },
      ],
    },
  };
}

/** Checks of server-side defaults, by kind: the API server filled in what the chart left out. */
const DEFAULTS: Record<string, (o: Loose, rendered: Loose) => void> = {
  Deployment: (o, rendered) => {
    assert.equal(o.spec.strategy.type, 'RollingUpdate');
    if (!rendered.spec.strategy) assert.equal(o.spec.strategy.rollingUpdate.maxSurge, '25%');
    assert.equal(o.spec.progressDeadlineSeconds, 600);
    assert.equal(o.spec.revisionHistoryLimit, 10);
    assert.equal(o.spec.template.spec.dnsPolicy, 'ClusterFirst');
    assert.equal(o.spec.template.spec.containers[0].terminationMessagePolicy, 'File');
  },
  CronJob: (o) => {
    const pod = o.spec.jobTemplate.spec.template.spec;
    assert.equal(pod.restartPolicy, 'Never');
    assert.equal(pod.schedulerName, 'default-scheduler');
    assert.equal(o.spec.concurrencyPolicy, 'Forbid');
  },
  Service: (o) => {
    assert.match(o.spec.clusterIP, /^10\.0\.0\.\d+$/, 'cluster IP from --service-cluster-ip-range');
    if (o.spec.type === 'LoadBalancer') assert.ok(o.spec.ports[0].nodePort > 0, 'node port');
  },
  PersistentVolumeClaim: (o) => assert.equal(o.spec.volumeMode, 'Filesystem'),
  HorizontalPodAutoscaler: (o) => assert.ok(o.spec.metrics.length > 0),
};

describe('the chart against a real kube-apiserver', { skip: cluster.skip }, () => {
  let api: KubernetesObjectApi;
  /** Reads objects of one namespace: `inNamespace(ns)('apps/v1', 'Deployment', name)`. */
  const inNamespace = (namespace: string) => (apiVersion: string, kind: string, name: string) =>
    readObject(api, { apiVersion, kind, name, namespace });
  before(async () => {
    assert.ok(existsSync(helmBin), `${helmBin} is missing: run node scripts/setup-tools.mjs helm`);
    assert.ok(cluster.plane);
    api = objectApi(cluster.plane.kubeconfig);
    for (const crd of [
      openCrd('monitoring.coreos.com', 'ServiceMonitor', 'servicemonitors'),
      openCrd('gateway.networking.k8s.io', 'HTTPRoute', 'httproutes'),
    ]) {
      await api.create(crd as never);
      await eventually(
        `CRD ${crd.metadata.name} established`,
        async () => {
          const stored = await readObject(api, {
            apiVersion: 'apiextensions.k8s.io/v1',
            kind: 'CustomResourceDefinition',
            name: crd.metadata.name,
          });
          const established = stored?.status?.conditions?.some(
            (c: Loose) => c.type === 'Established' && c.status === 'True',
          );
          return established ? true : undefined;
        },
        30_000,
      );
    }
  });

  for (const file of ciFiles) {
    test(`helm install with ci/${file}: every object stored as rendered`, async () => {
      const namespace = namespaceOf(file);
      helm([
        'install',
        RELEASE,
        chart,
        '--namespace',
        namespace,
        '--create-namespace',
        '-f',
        join(chart, 'ci', file),
      ]);
      const objects = releaseObjects(namespace);
      assert.ok(objects.length >= 4, `release has objects: ${objects.length}`);
      const kinds = new Set<string>();
      for (const rendered of objects) {
        const id = `${rendered.kind}/${rendered.metadata.name}`;
        kinds.add(rendered.kind);
        const stored = await readObject(api, {
          apiVersion: rendered.apiVersion,
          kind: rendered.kind,
          name: rendered.metadata.name,
          namespace,
        });
        assert.ok(stored, `${id} exists in namespace ${namespace}`);
        assertStoredAsRendered(rendered, stored, id);
        DEFAULTS[rendered.kind]?.(stored, rendered);
      }
      const retraining = !file.startsWith('retraining-off');
      assert.equal(kinds.has('CronJob'), retraining, 'CronJob present iff retraining is on');
      // Only the HTTP trigger (s3-values.yaml turns it on) needs the Role (issue 15, item 7).
      const trigger = retraining && file.startsWith('s3');
      assert.equal(kinds.has('Role'), trigger, 'trigger Role present iff the HTTP trigger is on');
      assert.ok(kinds.has('NetworkPolicy'), 'the serving NetworkPolicy is stored');
      if (file.startsWith('autoscaling')) {
        assert.ok(kinds.has('HorizontalPodAutoscaler') && kinds.has('ServiceMonitor'));
      }
      if (file.startsWith('gcs')) assert.ok(kinds.has('HTTPRoute'));
    });
  }

  test('the GPU variant: stored limits, tolerations, nodeSelector and runtimeClass', async () => {
    const read = inNamespace(namespaceOf('gpu-values.yaml'));
    const gpu = await read('apps/v1', 'Deployment', `${FULL}-gpu`);
    assert.ok(gpu, 'GPU Deployment stored');
    const pod = gpu.spec.template.spec;
    assert.equal(pod.containers[0].resources.limits['nvidia.com/gpu'], '1');
    assert.equal(pod.runtimeClassName, 'nvidia');
    assert.equal(pod.nodeSelector['cloud.google.com/gke-accelerator'], 'nvidia-tesla-t4');
    assert.ok(pod.tolerations.some((t: Loose) => t.key === 'nvidia.com/gpu'));
    const hpa = await read('autoscaling/v2', 'HorizontalPodAutoscaler', `${FULL}-gpu`);
    assert.ok(hpa, 'GPU HPA stored');
    assert.equal(hpa.spec.scaleTargetRef.name, `${FULL}-gpu`);
    const cron = await read('batch/v1', 'CronJob', `${FULL}-retrain`);
    const retrain = cron?.spec.jobTemplate.spec.template.spec;
    assert.equal(retrain.containers[0].resources.limits['nvidia.com/gpu'], '2');
  });

  test('helm upgrade with a changed value updates the stored objects', async () => {
    const namespace = namespaceOf('default-values.yaml');
    helm([
      'upgrade',
      RELEASE,
      chart,
      '--namespace',
      namespace,
      '--reuse-values',
      '--set',
      'retraining.schedule=*/5 * * * *',
      '--set',
      'replicaCount=3',
    ]);
    const status = JSON.parse(helm(['status', RELEASE, '--namespace', namespace, '-o', 'json']));
    assert.equal(status.version, 2);
    assert.equal(status.info.status, 'deployed');
    const read = inNamespace(namespace);
    const cron = await read('batch/v1', 'CronJob', `${FULL}-retrain`);
    assert.equal(cron?.spec.schedule, '*/5 * * * *');
    const deployment = await read('apps/v1', 'Deployment', FULL);
    assert.equal(deployment?.spec.replicas, 3);
    assert.equal(deployment?.metadata.generation, 2, 'the Deployment changed once');
  });

  test('helm uninstall removes the release but keeps the store PVC', async () => {
    const namespace = namespaceOf('default-values.yaml');
    helm(['uninstall', RELEASE, '--namespace', namespace]);
    const at = inNamespace(namespace);
    assert.equal(await at('apps/v1', 'Deployment', FULL), undefined);
    assert.equal(await at('batch/v1', 'CronJob', `${FULL}-retrain`), undefined);
    assert.equal(
      await at('rbac.authorization.k8s.io/v1', 'Role', `${FULL}-retrain-trigger`),
      undefined,
    );
    assert.equal(await at('v1', 'Service', FULL), undefined);
    const pvc = await at('v1', 'PersistentVolumeClaim', `${FULL}-store`);
    assert.ok(pvc, 'helm.sh/resource-policy: keep leaves the PVC');
  });
});
