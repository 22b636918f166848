/**
 * Test fixture: a real MinIO server on loopback ports, with its data in a temp folder.
 *
 *     const minio = await startMinio();
 *     const store = createS3ObjectStore(`s3://${minio.bucket}/run-1`, minio.storeOptions);
 *     ...
 *     await minio.stop();
 *
 * Runs `.tools/bin/minio` (installed by `node scripts/setup-tools.mjs minio`, which this
 * fixture runs itself when the binary is missing; `MSCR_MINIO_BIN` overrides the path).
 * One server per test file is plenty: give each test its own key prefix.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3StoreOptions } from '../s3-store.ts';
import { freePort } from '../../../tests/loopback.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface MinioServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** A bucket created at start. */
  readonly bucket: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** Options for `createS3ObjectStore` that reach this server. */
  readonly storeOptions: S3StoreOptions;
  /** The same, as the AWS environment variables `openStore` (and `mscr`) read. */
  readonly env: Record<string, string>;
  /** A plain SDK client for this server, for checks behind the store's back. */
  readonly client: S3Client;
  /** What the server printed so far. */
  output(): string;
  /** Deletes every object under `prefix` (a test's cleanup). */
  clear(prefix: string): Promise<void>;
  /** Stops the server and removes its data folder. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartMinioOptions {
  /** Name of the bucket to create. Default: a random `mscr-test-...` name. */
  bucket?: string;
  /** How long to wait for the server to answer. Default 60 s (a busy 2-core machine). */
  startTimeoutMs?: number;
}

/** The MinIO binary, installing it with the project's tools script when missing. */
export function minioBinary(): string {
  const override = process.env.MSCR_MINIO_BIN;
  if (override !== undefined && override !== '') return override;
  const binary = path.join(repoRoot, '.tools', 'bin', 'minio');
  if (existsSync(binary)) return binary;
  const setup = spawnSync(process.execPath, ['scripts/setup-tools.mjs', 'minio'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (setup.status !== 0 || !existsSync(binary)) {
    throw new Error(
      `MinIO is not installed at ${binary} and \`node scripts/setup-tools.mjs minio\` failed:\n${setup.stdout}${setup.stderr}`,
    );
  }
  return binary;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `url` answers 200, rejects when `exited` settles first or time runs out. */
async function waitFor(
  url: string,
  deadline: number,
  exited: () => string | undefined,
): Promise<void> {
  for (;;) {
    const exit = exited();
    if (exit !== undefined) throw new Error(`minio exited before it was ready (${exit})`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`minio did not answer ${url} in time`);
    await sleep(100);
  }
}

/** Starts a MinIO server and creates a bucket. Throws with MinIO's output when it cannot. */
export async function startMinio(options: StartMinioOptions = {}): Promise<MinioServer> {
  const binary = minioBinary();
  const bucket = options.bucket ?? `mscr-test-${randomBytes(4).toString('hex')}`;
  const credentials = {
    accessKeyId: `mscr-${randomBytes(4).toString('hex')}`,
    secretAccessKey: randomBytes(18).toString('base64url'),
  };
  const region = 'us-east-1';
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mscr-minio-'));
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('MINIO_')) env[name] = value;
  }
  Object.assign(env, {
    MINIO_ROOT_USER: credentials.accessKeyId,
    MINIO_ROOT_PASSWORD: credentials.secretAccessKey,
    MINIO_UPDATE: 'off',
  });

  let child: ChildProcess | undefined;
  let output = '';
  let exit: string | undefined;
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  const cleanupFailedStart = async (): Promise<void> => {
    process.off('exit', killOnExit);
    if (child !== undefined && exit === undefined) {
      const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    }
    await fs.rm(dir, { recursive: true, force: true });
  };

  // Ports are picked before minio binds them; another process may take one in between.
  let endpoint = '';
  for (let attempt = 1; ; attempt++) {
    const [apiPort, consolePort] = [await freePort(), await freePort()];
    endpoint = `http://127.0.0.1:${apiPort}`;
    output = '';
    exit = undefined;
    const started = spawn(
      binary,
      [
        'server',
        path.join(dir, 'data'),
        '--address',
        `127.0.0.1:${apiPort}`,
        '--console-address',
        `127.0.0.1:${consolePort}`,
        '--certs-dir',
        path.join(dir, 'certs'),
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    started.stdout?.setEncoding('utf8');
    started.stderr?.setEncoding('utf8');
    started.stdout?.on('data', (chunk: string) => (output += chunk));
    started.stderr?.on('data', (chunk: string) => (output += chunk));
    started.once('error', (error) => (exit = `spawn failed: ${error.message}`));
    started.once(
      'exit',
      (code, signal) => (exit = `exit code ${String(code)}, signal ${String(signal)}`),
    );
    process.once('exit', killOnExit);
    try {
      const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
      await waitFor(`${endpoint}/minio/health/live`, deadline, () => exit);
      await waitFor(`${endpoint}/minio/health/ready`, deadline, () => exit);
      break;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await cleanupFailedStart().catch(() => undefined);
      const portTaken = /address already in use/i.test(output);
      if (portTaken && attempt < 3) {
        await fs.mkdir(dir, { recursive: true });
        continue;
      }
      throw new Error(
        `cannot start MinIO (${binary}): ${message}\n--- minio output ---\n${output}`,
      );
    }
  }

  const client = new S3Client({
    endpoint,
    region,
    credentials,
    forcePathStyle: true,
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    client.destroy();
    await cleanupFailedStart();
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Error(`MinIO started, but creating bucket ${bucket} failed: ${message}\n${output}`);
  }

  const running = child;
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    bucket,
    region,
    credentials,
    storeOptions: { endpoint, region, credentials, forcePathStyle: true },
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    client,
    output: () => output,
    async clear(prefix: string): Promise<void> {
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        const keys = (page.Contents ?? []).flatMap((o) =>
          o.Key === undefined ? [] : [{ Key: o.Key }],
        );
        if (keys.length > 0) {
          await client.send(
            new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }),
          );
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        client.destroy();
        process.off('exit', killOnExit);
        if (exit === undefined) {
          const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
          running.kill('SIGTERM');
          const timer = setTimeout(() => running.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        }
        await fs.rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
