/**
 * Journeys 1 and 4: MinIO in the cluster, a model trained on the host published into it,
 * `helm install` with S3 values answering V2 and V1 through the Service, and failover under
 * load when a serving pod is deleted and when its container's process is SIGKILLed. They leave
 * the release `mscr` (namespace `mscr`) serving for the journeys after them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import type { V1Pod } from '@kubernetes/client-node';
import { deployMinio, runCommand, s3Env, s3Values } from '../journeys.ts';
import type { Minio } from '../journeys.ts';
import { CLUSTER_DOMAIN, repoRoot } from '../layout.ts';
import { ctr } from '../containerd.ts';
import { installChart } from '../../testing/helm.ts';
import { sharedData } from '../../../tests/shared-data.ts';
import { sleep } from '../host.ts';
import { podReady, until } from './fixture.ts';
import type { Fixture } from './fixture.ts';
import { assertNoFailures, startLoad } from './load.ts';

export const STORE = 's3://mscr-models/prod';
export const MODEL = 'stock-lstm';
export const RELEASE = 'mscr';
export const RELEASE_NS = 'mscr';
/** The bucket holding the retraining data (the chart's retraining.data reads s3:// URIs). */
export const DATA_BUCKET = 'mscr-data';

interface ModelMetadata {
  inputs: { name: string; datatype: string; shape: number[] }[];
}

export function s3Client(minio: Minio): S3Client {
  return new S3Client({
    endpoint: minio.endpoint,
    region: 'eu-west-1',
    forcePathStyle: true,
    credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey },
  });
}

/** The `mscr` CLI of this checkout, on the host, against the in-cluster MinIO. */
export function mscr(minio: Minio, args: string[], timeoutMs = 120_000) {
  return runCommand(
    process.execPath,
    [join(repoRoot, 'bin', 'mscr.js'), ...args],
    s3Env(minio),
    timeoutMs,
  );
}

/** The release's serving pods that are Ready. */
export async function readyServingPods(fixture: Fixture) {
  const pods = await fixture.kube.core.listNamespacedPod({
    namespace: RELEASE_NS,
    labelSelector: fixture.serving.selector,
  });
  return pods.items.filter(podReady);
}

/**
 * Follows a pod's endpoint in the Service's EndpointSlices (every 200 ms) from `since`: the
 * seconds until it is no longer ready (or gone), and until it is ready again.
 */
async function watchEndpoint(fixture: Fixture, podIP: string, since: number) {
  const ready = async () => {
    const slices = await fixture.kube.discovery.listNamespacedEndpointSlice({
      namespace: RELEASE_NS,
      labelSelector: `kubernetes.io/service-name=${fixture.serving.serviceName}`,
    });
    return slices.items.some((slice) =>
      (slice.endpoints ?? []).some(
        (e) => e.addresses.includes(podIP) && e.conditions?.ready === true,
      ),
    );
  };
  const deadline = since + 240_000;
  const waitFor = async (want: boolean) => {
    while ((await ready().catch(() => !want)) !== want) {
      if (Date.now() > deadline) assert.fail(`the endpoint ${podIP} never became ready=${want}`);
      await sleep(200);
    }
    return (Date.now() - since) / 1000;
  };
  const droppedAfter = await waitFor(false);
  const backAfter = await waitFor(true);
  return { droppedAfter, backAfter };
}

export function servingJourneys(fixture: Fixture): void {
  const state = fixture.serving;

  test('MinIO runs in the cluster from the locally built image', async () => {
    const { core, apps } = fixture.kube;
    const minio = await deployMinio(core, apps, fixture.images.minio!.ref);
    state.minio = minio;
    await until(
      'MinIO is ready',
      async () => {
        const d = await apps.readNamespacedDeployment({ name: 'minio', namespace: 'minio' });
        return (d.status?.readyReplicas ?? 0) >= 1 || undefined;
      },
      180_000,
    );
    const s3 = s3Client(minio);
    await until(
      'the buckets are created',
      async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'mscr-models' }));
        return true;
      },
      60_000,
    );
    await s3.send(new CreateBucketCommand({ Bucket: DATA_BUCKET }));
    const buckets = await s3.send(new ListBucketsCommand({}));
    assert.deepEqual(buckets.Buckets?.map((b) => b.Name).sort(), [DATA_BUCKET, 'mscr-models']);
  });

  test('a model trained on the host is published into the in-cluster MinIO', async () => {
    const minio = state.minio!;
    const train = await mscr(
      minio,
      [
        'train',
        '--model',
        MODEL,
        '--data',
        sharedData('stock/goog_daily.csv'),
        '--store',
        STORE,
        '--epochs',
        '1',
      ],
      600_000,
    );
    assert.equal(train.code, 0, train.output);
    const list = await mscr(minio, ['models', 'list', '--store', STORE]);
    assert.equal(list.code, 0, list.output);
    assert.match(list.output, /stock-lstm/);
  });

  test('helm install with S3 values: serving pods Ready, predict through the Service (V2, V1)', async () => {
    const { core, apps } = fixture.kube;
    const minio = state.minio!;
    await core.createNamespace({ body: { metadata: { name: RELEASE_NS } } });
    await core.createNamespacedSecret({
      namespace: RELEASE_NS,
      body: {
        metadata: { name: 'mscr-s3', namespace: RELEASE_NS },
        stringData: {
          AWS_ACCESS_KEY_ID: minio.accessKey,
          AWS_SECRET_ACCESS_KEY: minio.secretKey,
          AWS_SESSION_TOKEN: '',
        },
      },
    });
    installChart(fixture.cluster!.userKubeconfig, RELEASE, RELEASE_NS, [
      ...s3Values(fixture.images.mscr!.ref, STORE, minio),
      '--wait',
      '--timeout',
      '600s',
    ]);
    const deployment = await apps.readNamespacedDeployment({
      name: RELEASE,
      namespace: RELEASE_NS,
    });
    state.selector = Object.entries(deployment.spec?.selector.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const services = await core.listNamespacedService({ namespace: RELEASE_NS });
    const service = services.items.find((s) => s.spec?.ports?.some((p) => p.port === 80));
    assert.ok(service?.spec?.clusterIP, 'the serving Service has a ClusterIP');
    const url = `http://${service.spec.clusterIP}`;
    state.url = url;
    state.serviceName = service.metadata!.name!;
    state.inClusterUrl = `http://${state.serviceName}.${RELEASE_NS}.svc.${CLUSTER_DOMAIN}`;
    const meta = await until(
      'the model is loaded',
      async () => {
        const res = await fetch(`${url}/v2/models/${MODEL}`, { signal: AbortSignal.timeout(5000) });
        return res.ok ? ((await res.json()) as ModelMetadata) : undefined;
      },
      180_000,
    );
    const input = meta.inputs[0]!;
    const shape = input.shape.map((d) => (d < 0 ? 1 : d));
    const size = shape.reduce((a, b) => a * b, 1);
    state.inferBody = JSON.stringify({
      inputs: [{ name: input.name, shape, datatype: input.datatype, data: Array(size).fill(0.5) }],
    });
    const v2 = await fetch(`${url}/v2/models/${MODEL}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: state.inferBody,
    });
    const v2Body = (await v2.json()) as { outputs?: { data: number[] }[] };
    assert.equal(v2.status, 200, JSON.stringify(v2Body));
    assert.ok(v2Body.outputs?.[0]?.data.every((x) => Number.isFinite(x)));
    const nested = (dims: number[]): unknown =>
      dims.length === 0 ? 0.5 : Array.from({ length: dims[0]! }, () => nested(dims.slice(1)));
    const v1 = await fetch(`${url}/v1/models/${MODEL}:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [nested(shape.slice(1))] }),
    });
    const v1Body = (await v1.json()) as { predictions?: unknown[] };
    assert.equal(v1.status, 200, JSON.stringify(v1Body));
    assert.equal(v1Body.predictions?.length, 1);
    assert.ok((await readyServingPods(fixture)).length >= 2, 'two serving replicas are Ready');
  });

  // This test found a drain race (1-3 of ~1,400 requests cut with "other side closed" when
  // stop() closed idle kept-alive connections at once); service/http/drain.ts fixes it.
  test('a serving pod deleted under load: zero failed requests, a replacement becomes Ready', async () => {
    const { core } = fixture.kube;
    const load = startLoad({ url: state.url, model: MODEL, body: state.inferBody });
    let result;
    try {
      await sleep(3000);
      const victim = (await readyServingPods(fixture))[0]!.metadata!.name!;
      const deletedAt = Date.now();
      await core.deleteNamespacedPod({ name: victim, namespace: RELEASE_NS });
      await until(
        'a replacement pod is Ready',
        async () => {
          const ready = await readyServingPods(fixture);
          return ready.filter((p) => p.metadata?.name !== victim).length >= 2 || undefined;
        },
        240_000,
      );
      // A figure, not an assertion (the thesis: a new instance in under 40 s).
      console.log(
        `# failover: replacement Ready ${((Date.now() - deletedAt) / 1000).toFixed(1)} s after the delete`,
      );
      await sleep(3000);
    } finally {
      result = await load.stop();
    }
    assertNoFailures('failover', result);
  });

  // SIGKILL gives the process no chance to drain: the requests in flight on it break, and until
  // kubelet sees the container die (its PLEG relists every second), marks the pod NotReady and
  // kube-proxy drops the endpoint, new connections the Service sends there are refused. No
  // server can answer those; a client can send them again, and the mscr client SDK does for
  // inference (idempotent) on a refused or broken connection. So here the load retries such a
  // request (after 0.2, 0.4, 0.8, 1.6, 3.2 s), and the test asserts that none fails after its
  // retries and prints how many first attempts broke (what a client without retries loses).
  test('a serving container SIGKILLed under load: kubelet restarts it in place, no request fails once retried', async () => {
    const { core } = fixture.kube;
    const load = startLoad({
      url: state.url,
      model: MODEL,
      body: state.inferBody,
      connectionRetries: 5,
    });
    let result;
    let killedAtForLog = 0;
    try {
      await sleep(3000);
      const victim = (await readyServingPods(fixture))[0]!;
      const name = victim.metadata!.name!;
      const container = victim.spec!.containers[0]!.name;
      const statusOf = (pod: V1Pod) =>
        pod.status?.containerStatuses?.find((c) => c.name === container);
      const before = statusOf(victim)!;
      const id = before.containerID!.replace(/^containerd:\/\//, '');
      const podIP = victim.status!.podIP!;
      const killedAt = Date.now();
      ctr(fixture.layout, ['tasks', 'kill', '--signal', 'SIGKILL', id]);
      const endpoint = watchEndpoint(fixture, podIP, killedAt);
      endpoint.catch(() => {}); // awaited below; this keeps an early failure from going unhandled
      let notReadyAfter: number | undefined;
      const restarted = await until(
        'the killed container is restarted and the pod Ready again',
        async () => {
          const pod = await core.readNamespacedPod({ name, namespace: RELEASE_NS });
          if (!podReady(pod)) notReadyAfter ??= (Date.now() - killedAt) / 1000;
          const status = statusOf(pod);
          return (status?.restartCount ?? 0) > before.restartCount && podReady(pod)
            ? status
            : undefined;
        },
        240_000,
      );
      const readyAfter = (Date.now() - killedAt) / 1000;
      const { droppedAfter, backAfter } = await endpoint;
      // The same pod, its container restarted by kubelet (exit 137: killed by SIGKILL).
      assert.equal(restarted!.lastState?.terminated?.exitCode, 137, JSON.stringify(restarted));
      assert.notEqual(restarted!.containerID, before.containerID);
      // A figure, not an assertion (the thesis: a new instance in under 40 s).
      console.log(
        `# kill: container restarted in place and the pod Ready again ${readyAfter.toFixed(1)} s after SIGKILL (NotReady seen after ${notReadyAfter?.toFixed(1) ?? '?'} s; its endpoint not ready in the EndpointSlice after ${droppedAfter.toFixed(1)} s, ready again after ${backAfter.toFixed(1)} s)`,
      );
      killedAtForLog = killedAt;
      assert.ok((await readyServingPods(fixture)).length >= 2);
      await sleep(3000);
    } finally {
      result = await load.stop();
    }
    if (result.brokenAt.length > 0) {
      const since = (t: number) => ((t - killedAtForLog) / 1000).toFixed(1);
      console.log(
        `# kill: first attempts broke from ${since(Math.min(...result.brokenAt))} s to ${since(Math.max(...result.brokenAt))} s after SIGKILL`,
      );
    }
    assertNoFailures('kill', result);
  });
}
