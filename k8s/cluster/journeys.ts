/**
 * What the end-to-end journeys need on the cluster: the images of scripts/build-images.mjs
 * (the project's Dockerfile, MinIO, k6), an in-cluster MinIO as a user would run it, a model
 * published into it, and `helm install` of the chart against it. Everything is reached at the
 * cluster's own Service addresses (behind the guard).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { repoRoot } from './layout.ts';

export interface BuiltImage {
  ref: string;
  archive: string;
}

/** The images scripts/build-images.mjs listed in ~/.cache/mscr/images/index.json, by name. */
export function builtImages(): Record<string, BuiltImage> {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const index = join(cache, 'mscr', 'images', 'index.json');
  if (!existsSync(index)) return {};
  const entries = JSON.parse(readFileSync(index, 'utf8')) as Record<string, Partial<BuiltImage>>;
  const found: Record<string, BuiltImage> = {};
  for (const [name, entry] of Object.entries(entries)) {
    if (typeof entry.ref === 'string' && typeof entry.archive === 'string') {
      if (existsSync(entry.archive)) found[name] = { ref: entry.ref, archive: entry.archive };
    }
  }
  return found;
}

export interface Minio {
  /** http://<ClusterIP>:9000, for the host. */
  endpoint: string;
  /** http://minio.minio.svc:9000, for pods. */
  inCluster: string;
  accessKey: string;
  secretKey: string;
}

/** MinIO as a Deployment + Service in namespace `minio` (data in an emptyDir). */
export async function deployMinio(core: CoreV1Api, apps: AppsV1Api, image: string): Promise<Minio> {
  const namespace = 'minio';
  const accessKey = 'mscr-e2e';
  const secretKey = randomBytes(18).toString('base64url');
  const labels = { app: 'minio' };
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'minio', namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            securityContext: { runAsNonRoot: true, runAsUser: 10002, fsGroup: 10002 },
            containers: [
              {
                name: 'minio',
                image,
                imagePullPolicy: 'Never',
                args: ['server', '/data', '--address', ':9000'],
                env: [
                  { name: 'MINIO_ROOT_USER', value: accessKey },
                  { name: 'MINIO_ROOT_PASSWORD', value: secretKey },
                ],
                ports: [{ containerPort: 9000 }],
                readinessProbe: {
                  httpGet: { path: '/minio/health/ready', port: 9000 },
                  periodSeconds: 2,
                },
                volumeMounts: [{ name: 'data', mountPath: '/data' }],
              },
            ],
            volumes: [{ name: 'data', emptyDir: {} }],
          },
        },
      },
    },
  });
  const service = await core.createNamespacedService({
    namespace,
    body: {
      metadata: { name: 'minio', namespace },
      spec: { selector: labels, ports: [{ port: 9000, targetPort: 9000 }] },
    },
  });
  return {
    endpoint: `http://${service.spec?.clusterIP}:9000`,
    inCluster: 'http://minio.minio.svc:9000',
    accessKey,
    secretKey,
  };
}

export interface CommandResult {
  code: number | null;
  output: string;
}

/** Runs a command with a timeout; resolves its exit code and combined output. */
export function runCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The environment of the mscr CLI for the in-cluster MinIO (from the host). */
export function s3Env(minio: Minio): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ENDPOINT_URL: minio.endpoint,
    AWS_ACCESS_KEY_ID: minio.accessKey,
    AWS_SECRET_ACCESS_KEY: minio.secretKey,
    AWS_REGION: 'eu-west-1',
    MSCR_S3_FORCE_PATH_STYLE: 'true',
    MSCR_LOG_LEVEL: 'warn',
  };
}

/** Chart values for the in-cluster MinIO and the locally built image. */
export function s3Values(image: string, storeUri: string, minio: Minio): string[] {
  const colon = image.lastIndexOf(':');
  return [
    `image.repository=${image.slice(0, colon)}`,
    `image.tag=${image.slice(colon + 1)}`,
    'image.pullPolicy=Never',
    `store.uri=${storeUri}`,
    'store.s3.region=eu-west-1',
    `store.s3.endpoint=${minio.inCluster}`,
    'store.s3.forcePathStyle=true',
    'store.credentials.existingSecret=mscr-s3',
    'retraining.enabled=false',
    'replicaCount=2',
    // The node has 2 cores; the chart's default request of 1 core each would leave the
    // second replica Pending next to CoreDNS and metrics-server.
    'resources.requests.cpu=200m',
  ].flatMap((v) => ['--set', v]);
}
