/**
 * `mscr serve --http-processes N`: N service processes sharing one port (node:cluster).
 *
 * Why: in one process every request's body is read, JSON-parsed and decoded on the one main
 * thread; with V2 JSON (a 58.7 KB CIFAR-10 image is ~3,000 numbers as text) that thread is
 * the limit before the inference workers are. N processes parse on N main threads.
 *
 * How they combine: each process is a whole service (its own inference workers, batcher,
 * models and hot reload from the store), so compute threads = N x workers x onnx-threads;
 * on a machine of C cores, N x workers x threads = C is the plain choice. The primary
 * process only accepts connections and hands them round-robin to the processes; it loads
 * no model. What is per process: /metrics (a scrape sees one process), batching, the
 * prediction log buffer. What only the first process does: gRPC (one port cannot be shared
 * by grpc-js) and the broker consumers (one consumer set is enough; more would only compete).
 * A process that dies is replaced. SIGTERM/SIGINT to the primary drains every process.
 */
import cluster, { type Worker } from 'node:cluster';
import { MscrError } from '../connectors/errors.ts';
import type { ServiceConfig } from '../service/config.ts';

const ROLE_ENV = 'MSCR_HTTP_PROCESS_INDEX';

/** Parses the flag or MSCR_HTTP_PROCESSES: an integer from 1 to 64 (default 1). */
export function httpProcessCount(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return 1;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new MscrError(
      'config',
      `--http-processes must be an integer from 1 to 64, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}

/** True in the primary of a multi-process serve: it forks and supervises, nothing else. */
export function isSupervisor(count: number): boolean {
  return count > 1 && cluster.isPrimary;
}

/**
 * The config of this process: unchanged with one process; in the second and later processes
 * of a multi-process serve, gRPC and the brokers off (see the header).
 */
export function configForProcess(config: ServiceConfig): ServiceConfig {
  const index = Number(process.env[ROLE_ENV] ?? 0);
  if (cluster.isPrimary || index === 0) return config;
  return {
    ...config,
    grpc: { ...config.grpc, port: 0 },
    brokers: {
      ...config.brokers,
      amqp: { ...config.brokers.amqp, url: '' },
      mqtt: { ...config.brokers.mqtt, url: '' },
    },
  };
}

/**
 * In a forked service process, once its service has stopped: closes the IPC channel to the
 * primary, which would otherwise keep the process alive after the drain.
 */
export function leaveCluster(): void {
  if (cluster.isWorker && cluster.worker?.isConnected()) cluster.worker.disconnect();
}

/**
 * Forks `count` service processes (this same command line) and supervises them until
 * SIGTERM/SIGINT, which it passes on; resolves when all have exited.
 */
export function superviseHttpProcesses(
  count: number,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<void> {
  const workers = new Map<Worker, number>();
  let stopping = false;
  let failed = false;
  const fork = (index: number) => {
    const worker = cluster.fork({ [ROLE_ENV]: String(index) });
    let listening = false;
    workers.set(worker, index);
    worker.once('listening', () => {
      listening = true;
    });
    worker.on('exit', (code, signal) => {
      workers.delete(worker);
      if (stopping) {
        if (workers.size === 0) done();
        return;
      }
      if (!listening) {
        // It never served (a port in use, a store it cannot read): restarting would loop.
        log(`mscr: HTTP process ${index} exited (${signal ?? code}) before listening; stopping`);
        failed = true;
        stop('SIGTERM');
        return;
      }
      log(`mscr: HTTP process ${index} exited (${signal ?? code}); starting a new one`);
      fork(index);
    });
  };
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: draining ${workers.size} HTTP processes, then exiting`);
    if (workers.size === 0) done();
    for (const worker of workers.keys()) worker.process.kill('SIGTERM');
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  for (let i = 0; i < count; i++) fork(i);
  return finished.then(() => {
    if (failed) process.exitCode = 1;
  });
}
