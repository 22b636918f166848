/**
 * `npm run loadtest:cluster`: the MSC/R thesis's Table 4.1 on the single-node cluster: the
 * share of failed requests by request interval while, during each run, a serving pod is
 * deleted (CLUSTER_DISRUPTION=kill: its container SIGKILLed) and a new model version is
 * published (and hot-reloaded by every replica). The
 * thesis sent a request every 15 s, 1 min and 5 min over hours and saw 2-13 % fail; here the
 * intervals are scaled down (CLUSTER_INTERVALS, default 0.25 s, 1 s, 5 s) so that a run lasts
 * about a minute and a half. Also recorded: the failover time (pod deleted -> replacement
 * Ready) and the reload time (publish done -> every replica serves the new version).
 *
 * It starts the cluster (k8s/cluster; root, the images of scripts/build-images.mjs), deploys
 * MinIO and the chart with S3 values (as the end-to-end suite does), runs, writes
 * bench/results/cluster-availability{,-kill}.{json,md}, and tears the cluster down, also on
 * failure. Requests go only to the cluster's Service address, behind the cluster's guard.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { startCluster } from '../k8s/cluster/index.ts';
import { ctr } from '../k8s/cluster/containerd.ts';
import type { Cluster } from '../k8s/cluster/index.ts';
import { builtImages, deployMinio, runCommand, s3Env, s3Values } from '../k8s/cluster/journeys.ts';
import type { Minio } from '../k8s/cluster/journeys.ts';
import { repoRoot } from '../k8s/cluster/layout.ts';
import { installChart } from '../k8s/testing/helm.ts';
import { sharedData } from '../tests/shared-data.ts';

const STORE = 's3://mscr-models/prod';
const MODEL = 'stock-lstm';
const NS = 'mscr';
const intervals = (process.env.CLUSTER_INTERVALS ?? '0.25,1,5').split(',').map(Number);
/** Seconds of load after the reload before a run ends. */
const TAIL_S = Number(process.env.CLUSTER_TAIL_S ?? 20);
/**
 * How the serving pod fails: `delete` (the pod is deleted: preStop, drain, a new pod) or
 * `kill` (its container's main process gets SIGKILL on the node's containerd: no drain,
 * kubelet restarts the container in the same pod).
 */
const DISRUPTION = process.env.CLUSTER_DISRUPTION ?? 'delete';
if (DISRUPTION !== 'delete' && DISRUPTION !== 'kill') {
  throw new Error(`CLUSTER_DISRUPTION is delete or kill, not ${DISRUPTION}`);
}
/** bench/results/<name>.{json,md}: the kill runs beside the delete runs. */
const RESULTS_NAME = DISRUPTION === 'kill' ? 'cluster-availability-kill' : 'cluster-availability';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 300_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await sleep(500);
  }
}

const ready = (p: V1Pod) =>
  !p.metadata?.deletionTimestamp &&
  (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);

interface Row {
  intervalSeconds: number;
  requests: number;
  failed: number;
  failureRate: number;
  failoverSeconds: number;
  publishSeconds: number;
  reloadSeconds: number;
  runSeconds: number;
  errors: string[];
}

const mscr = (minio: Minio, args: string[]) =>
  runCommand(process.execPath, [join(repoRoot, 'bin', 'mscr.js'), ...args], s3Env(minio), 900_000);

async function main(): Promise<void> {
  const images = builtImages();
  if (!images.mscr || !images.minio) {
    throw new Error('the mscr and minio images are not built: run `node scripts/build-images.mjs`');
  }
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({
      images: Object.values(images).map((i) => i.archive),
      log: (l) => console.log(`cluster: ${l}`),
    });
    const config = new KubeConfig();
    config.loadFromFile(cluster.userKubeconfig);
    const core = config.makeApiClient(CoreV1Api);
    const apps = config.makeApiClient(AppsV1Api);

    const minio = await deployMinio(core, apps, images.minio.ref);
    const s3 = new S3Client({
      endpoint: minio.endpoint,
      region: 'eu-west-1',
      forcePathStyle: true,
      credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey },
    });
    await until('MinIO bucket', () => s3.send(new CreateBucketCommand({ Bucket: 'mscr-models' })));
    const trainArgs = [
      'train',
      '--model',
      MODEL,
      '--data',
      sharedData('stock/goog_daily.csv'),
      '--store',
      STORE,
      '--epochs',
      '1',
    ];
    const first = await mscr(minio, trainArgs);
    if (first.code !== 0) throw new Error(`mscr train: ${first.output}`);

    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: 'mscr-s3', namespace: NS },
        stringData: { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey },
      },
    });
    installChart(cluster.userKubeconfig, 'mscr', NS, [
      ...s3Values(images.mscr.ref, STORE, minio),
      '--wait',
      '--timeout',
      '600s',
    ]);
    const services = await core.listNamespacedService({ namespace: NS });
    const url = `http://${services.items.find((s) => s.metadata?.name === 'mscr')?.spec?.clusterIP}`;
    const meta = (await until('model loaded', async () => {
      const res = await fetch(`${url}/v2/models/${MODEL}`);
      return res.ok ? await res.json() : undefined;
    })) as { inputs: { name: string; datatype: string; shape: number[] }[] };
    const input = meta.inputs[0]!;
    const shape = input.shape.map((d) => (d < 0 ? 1 : d));
    const body = JSON.stringify({
      inputs: [
        {
          name: input.name,
          shape,
          datatype: input.datatype,
          data: Array(shape.reduce((a, b) => a * b, 1)).fill(0.5),
        },
      ],
    });
    const deployment = await apps.readNamespacedDeployment({ name: 'mscr', namespace: NS });
    const selector = Object.entries(deployment.spec?.selector.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const servingPods = async () =>
      (await core.listNamespacedPod({ namespace: NS, labelSelector: selector })).items;

    const rows: Row[] = [];
    let version = 1;
    for (const interval of intervals) {
      const started = Date.now();
      let requests = 0;
      const errors: string[] = [];
      const inFlight = new Set<Promise<void>>();
      let running = true;
      // One request every `interval` seconds, each on its own (a slow answer does not delay
      // the next one), as the thesis's clients did.
      const sender = (async () => {
        for (let next = Date.now(); running; next += interval * 1000) {
          await sleep(Math.max(0, next - Date.now()));
          if (!running) break;
          requests++;
          const request = fetch(`${url}/v2/models/${MODEL}/infer`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            signal: AbortSignal.timeout(10_000),
          })
            .then(async (res) => {
              const text = await res.text();
              if (res.status !== 200) errors.push(`HTTP ${res.status}: ${text.slice(0, 120)}`);
            })
            .catch((error: unknown) => {
              errors.push(String((error as Error).cause ?? error));
            });
          inFlight.add(request);
          void request.finally(() => inFlight.delete(request));
        }
      })();
      await sleep(5000);
      // A serving pod deleted (or its container killed), and a new version published, during
      // the run.
      const victimPod = (await servingPods()).find(ready)!;
      const victim = victimPod.metadata!.name!;
      const container = victimPod.status!.containerStatuses![0]!;
      const deletedAt = Date.now();
      if (DISRUPTION === 'kill') {
        const id = container.containerID!.replace(/^containerd:\/\//, '');
        ctr(cluster.layout, ['tasks', 'kill', '--signal', 'SIGKILL', id]);
      } else {
        await core.deleteNamespacedPod({ name: victim, namespace: NS });
      }
      const publishStarted = Date.now();
      const publish = mscr(minio, trainArgs);
      await until('replacement Ready', async () => {
        const pods = (await servingPods()).filter((p) =>
          DISRUPTION === 'kill'
            ? ready(p) &&
              (p.metadata?.name !== victim ||
                (p.status?.containerStatuses?.[0]?.restartCount ?? 0) > container.restartCount)
            : p.metadata?.name !== victim && ready(p),
        );
        return pods.length >= 2 ? true : undefined;
      });
      const failoverSeconds = (Date.now() - deletedAt) / 1000;
      const published = await publish;
      if (published.code !== 0) throw new Error(`mscr train: ${published.output}`);
      version++;
      const publishedAt = Date.now();
      await until('every replica serves the new version', async () => {
        const pods = (await servingPods()).filter(ready);
        if (pods.length < 2) return undefined;
        const served = await Promise.all(
          pods.map(async (p) => {
            const res = await fetch(`http://${p.status?.podIP}:8080/v2/models/${MODEL}`);
            return ((await res.json()) as { versions?: string[] }).versions ?? [];
          }),
        );
        return served.every((v) => v.includes(String(version))) ? true : undefined;
      });
      const reloadSeconds = (Date.now() - publishedAt) / 1000;
      await sleep(TAIL_S * 1000);
      running = false;
      await sender;
      await Promise.all(inFlight);
      const row: Row = {
        intervalSeconds: interval,
        requests,
        failed: errors.length,
        failureRate: requests ? errors.length / requests : 0,
        failoverSeconds,
        publishSeconds: (publishedAt - publishStarted) / 1000,
        reloadSeconds,
        runSeconds: (Date.now() - started) / 1000,
        errors: errors.slice(0, 5),
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
    await writeResults(rows);
  } finally {
    if (cluster) {
      const report = await cluster.stop();
      if (report.problems.length) console.error(`teardown: ${report.problems.join('; ')}`);
    }
  }
}

async function writeResults(rows: Row[]): Promise<void> {
  const dir = new URL('./results/', import.meta.url).pathname;
  await mkdir(dir, { recursive: true });
  const when = new Date().toISOString();
  await writeFile(
    join(dir, `${RESULTS_NAME}.json`),
    `${JSON.stringify({ when, model: MODEL, replicas: 2, disruption: DISRUPTION, rows }, null, 2)}\n`,
  );
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  const table = [
    `# Failed requests by request interval (single-node cluster, ${when})`,
    '',
    `Each run: one request per interval to the Service; 5 s in, a serving pod is ${DISRUPTION === 'kill' ? "SIGKILLed (its container's main process) " : 'deleted '}and a`,
    'new version is published (mscr train on the host into the in-cluster MinIO); the run ends',
    `${TAIL_S} s after every replica serves it. Thesis (Table 4.1): 2-13 % failed.`,
    '',
    '| request interval | requests | failed | failure rate | failover (s) | reload (s) | run (s) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.intervalSeconds} s | ${r.requests} | ${r.failed} | ${pct(r.failureRate)} | ${r.failoverSeconds.toFixed(1)} | ${r.reloadSeconds.toFixed(1)} | ${r.runSeconds.toFixed(0)} |`,
    ),
    '',
  ].join('\n');
  await writeFile(join(dir, `${RESULTS_NAME}.md`), table);
  console.log(table);
}

await main();
