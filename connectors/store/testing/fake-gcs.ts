/**
 * Test fixture: the real fake-gcs-server (github.com/fsouza/fake-gcs-server, built into
 * `.tools/bin/` by `node scripts/setup-tools.mjs fake-gcs-server`) on a free loopback port,
 * over plain http, with the filesystem backend in a fresh temp folder.
 *
 *     const gcs = await startFakeGcs();
 *     const store = createGcsObjectStore(`gs://${gcs.bucket}/run-1`, { apiEndpoint: gcs.apiEndpoint });
 *     ...
 *     await gcs.stop();
 *
 * Also here: `startRecordingProxy`, a tiny HTTP proxy put in front of the server by tests
 * that need to see (or break) the requests the SDK sends.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../tests/loopback.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const FAKE_GCS_BINARY = path.join(repoRoot, '.tools', 'bin', 'fake-gcs-server');

/** How much of the server's output is kept for error messages. */
const OUTPUT_LIMIT = 64 * 1024;
const START_TIMEOUT_MS = 20_000;

export interface FakeGcs {
  /** `http://127.0.0.1:<port>`: what `apiEndpoint` (or `STORAGE_EMULATOR_HOST`) takes. */
  readonly apiEndpoint: string;
  /** A bucket created at start. */
  readonly bucket: string;
  /** `STORAGE_EMULATOR_HOST`, as `openStore` (and `mscr`) read it. */
  readonly env: Record<string, string>;
  /** The server's data folder (filesystem backend). */
  readonly dataDir: string;
  readonly pid: number | undefined;
  /** The last 64 KiB of the server's stdout and stderr. */
  output(): string;
  /** Creates another bucket. */
  createBucket(name: string): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its data folder. Idempotent. */
  stop(): Promise<void>;
}

export interface FakeGcsOptions {
  /** Name of the bucket to create (default `mscr-test`). */
  bucket?: string;
  /** Storage backend (default `filesystem`, as the brief for these tests asks). */
  backend?: 'filesystem' | 'memory';
  /** fake-gcs-server's `-log-level` (default `warn`: `info` logs every request). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

async function createBucketAt(apiEndpoint: string, name: string): Promise<void> {
  const response = await fetch(`${apiEndpoint}/storage/v1/b?project=mscr-test`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`fake-gcs-server: creating bucket ${name} failed: ${response.status} ${text}`);
  }
}

interface Attempt {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function launch(port: number, options: Required<FakeGcsOptions>, dataDir: string): Attempt {
  const apiEndpoint = `http://127.0.0.1:${port}`;
  const args = [
    '-scheme',
    'http',
    '-host',
    '127.0.0.1',
    '-port',
    String(port),
    '-backend',
    options.backend,
    '-public-host',
    `127.0.0.1:${port}`,
    '-external-url',
    apiEndpoint,
    '-log-level',
    options.logLevel,
  ];
  if (options.backend === 'filesystem') args.push('-filesystem-root', dataDir);
  const child = spawn(FAKE_GCS_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (error) => {
      collect(Buffer.from(`\n${error.message}\n`));
      resolve(-1);
    });
  });
  return { child, output: () => output, exited };
}

/**
 * Starts fake-gcs-server, waits until it answers its health check, and creates a bucket.
 * Throws with the server's output if it does not start.
 */
export async function startFakeGcs(opts: FakeGcsOptions = {}): Promise<FakeGcs> {
  if (!existsSync(FAKE_GCS_BINARY)) {
    throw new Error(
      `fake-gcs-server is not installed at ${FAKE_GCS_BINARY}: run \`node scripts/setup-tools.mjs fake-gcs-server\``,
    );
  }
  const options: Required<FakeGcsOptions> = {
    bucket: opts.bucket ?? 'mscr-test',
    backend: opts.backend ?? 'filesystem',
    logLevel: opts.logLevel ?? 'warn',
  };
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mscr-fake-gcs-'));
  const failures: string[] = [];
  // The port may be taken between freePort() and the server's bind: try a few times.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const apiEndpoint = `http://127.0.0.1:${port}`;
    const run = launch(port, options, dataDir);
    let exitCode: number | null | undefined;
    void run.exited.then((code) => (exitCode = code));
    const deadline = Date.now() + START_TIMEOUT_MS;
    let up = false;
    while (exitCode === undefined && Date.now() < deadline) {
      if (await answers(`${apiEndpoint}/_internal/healthcheck`)) {
        up = true;
        break;
      }
      await sleep(50);
    }
    if (!up) {
      run.child.kill('SIGKILL');
      await run.exited;
      failures.push(
        `attempt ${attempt} on port ${port}: ${exitCode === undefined ? `no answer within ${START_TIMEOUT_MS} ms` : `exited with ${String(exitCode)}`}\n${run.output()}`,
      );
      continue;
    }
    // Never leave an orphaned server behind, even if the test process dies.
    const killOnExit = (): void => {
      run.child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    let stopped: Promise<void> | undefined;
    const stop = async (): Promise<void> => {
      stopped ??= (async () => {
        process.removeListener('exit', killOnExit);
        if (exitCode === undefined) {
          run.child.kill('SIGTERM');
          const timer = setTimeout(() => run.child.kill('SIGKILL'), 5_000);
          await run.exited;
          clearTimeout(timer);
        }
        await fs.rm(dataDir, { recursive: true, force: true });
      })();
      await stopped;
    };
    try {
      await createBucketAt(apiEndpoint, options.bucket);
    } catch (error) {
      await stop();
      throw new Error(`${(error as Error).message}\nserver output:\n${run.output()}`);
    }
    return {
      apiEndpoint,
      bucket: options.bucket,
      env: { STORAGE_EMULATOR_HOST: apiEndpoint },
      dataDir,
      pid: run.child.pid,
      output: run.output,
      createBucket: (name) => createBucketAt(apiEndpoint, name),
      stop,
    };
  }
  await fs.rm(dataDir, { recursive: true, force: true });
  throw new Error(`fake-gcs-server did not start:\n${failures.join('\n')}`);
}

/** One request seen by the recording proxy. */
export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  /** Request body bytes that went through the proxy. */
  bytes: number;
}

/**
 * What to do with a request: forward it, or forward it and then cut the connection instead
 * of returning the answer (the server acted; the client never hears back).
 */
export type ProxyAction = 'forward' | 'lose-response';

export interface RecordingProxy {
  /** `http://127.0.0.1:<port>`: use as `apiEndpoint`. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A minimal HTTP proxy in front of `target` that records every request and can lose
 * responses on demand (`decide`). It keeps the client's Host header, so fake-gcs-server
 * builds resumable-upload session URLs that point back at the proxy.
 */
export async function startRecordingProxy(
  target: string,
  decide: (request: { method: string; url: string }) => ProxyAction = () => 'forward',
): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const entry: RecordedRequest = { method, url, bytes: 0 };
    requests.push(entry);
    const action = decide({ method, url });
    req.on('data', (chunk: Buffer) => (entry.bytes += chunk.length));
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method,
        path: url,
        headers: req.headers,
      },
      (answer) => {
        if (action === 'lose-response') {
          answer.resume();
          answer.once('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => req.socket.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
