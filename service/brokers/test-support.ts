/**
 * Test support: private, real brokers on free loopback ports with temporary data folders, as
 * the MinIO tests do. A RabbitMQ node (its own node name, Mnesia and log folders, Erlang
 * cookie in a HOME we own, its own epmd port, every listener on 127.0.0.1) and a mosquitto
 * (a config file with one 127.0.0.1 listener and persistence in a temp folder). Both come
 * from Debian's packages (`node scripts/setup-brokers.mjs`); a missing broker skips the test
 * saying why, and fails it when CI is set.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../tests/loopback.ts';

/** The RabbitMQ start script run as this user (Debian's /usr/sbin wrapper switches to the rabbitmq user). */
export const RABBITMQ_SERVER =
  process.env.MSCR_RABBITMQ_SERVER ?? '/usr/lib/rabbitmq/bin/rabbitmq-server';
export const MOSQUITTO = process.env.MSCR_MOSQUITTO ?? '/usr/sbin/mosquitto';

/** Why a broker test cannot run here, or undefined. With CI set, missing brokers are an error. */
export function missingBroker(which: 'rabbitmq' | 'mosquitto'): string | undefined {
  const bin = which === 'rabbitmq' ? RABBITMQ_SERVER : MOSQUITTO;
  if (existsSync(bin)) return undefined;
  const reason = `${bin} is missing: run node scripts/setup-brokers.mjs (installs Debian's rabbitmq-server and mosquitto)`;
  if (process.env.CI) throw new Error(`CI is set, so this cannot be skipped: ${reason}`);
  return reason;
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(
  port: number,
  child: ChildProcess,
  what: string,
  log: () => string,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}):\n${log()}`);
    if (Date.now() > deadline)
      throw new Error(`${what} did not listen within ${timeoutMs} ms:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Broker process groups still running: killed when this process exits without `close()`. */
const running = new Set<number>();
process.once('exit', () => {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

async function stopChild(child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const pid = child.pid;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(pid);
      resolve();
    }),
  );
  // The process group: the start script and the Erlang VM it runs.
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  }, timeoutMs);
  await exited;
  clearTimeout(timer);
}

export interface TestRabbit {
  /** `amqp://guest:guest@127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Stops the node (SIGTERM: a graceful broker shutdown); data stays for `start()`. */
  stop(): Promise<void>;
  /** Starts the node again on the same port with the same data (a broker restart). */
  start(): Promise<void>;
  /** Stops the node and its epmd, and deletes its folders. */
  close(): Promise<void>;
}

/** A private RabbitMQ node on 127.0.0.1. Starting takes a few seconds (the Erlang VM boots). */
export async function startRabbit(): Promise<TestRabbit> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mscr-rabbit-'));
  const home = path.join(dir, 'home');
  mkdirSync(home);
  writeFileSync(path.join(home, '.erlang.cookie'), randomBytes(20).toString('hex'), {
    mode: 0o400,
  });
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(
    path.join(dir, 'rabbitmq.conf'),
    [
      `listeners.tcp.1 = 127.0.0.1:${port}`,
      'log.console = false',
      'log.file.level = warning',
      // The shared machine's disk may be fuller than RabbitMQ's 50 MB default is about.
      'disk_free_limit.absolute = 1MB',
    ].join('\n') + '\n',
  );
  const node = `mscr${randomBytes(4).toString('hex')}@localhost`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    RABBITMQ_CONF_ENV_FILE: path.join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_PID_FILE: path.join(dir, 'rabbit.pid'),
    // Erlang distribution and epmd on loopback, on ports of our own.
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  writeFileSync(path.join(dir, 'rabbitmq-env.conf'), '');
  let child: ChildProcess | undefined;
  let output = '';
  const start = async () => {
    output = '';
    const c = spawn(RABBITMQ_SERVER, [], {
      env,
      cwd: dir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    if (c.pid !== undefined) running.add(c.pid);
    c.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    c.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    await waitForPort(port, c, `rabbitmq-server ${node}`, () => output);
  };
  const stop = async () => {
    if (child) await stopChild(child);
  };
  await start();
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    port,
    start,
    stop,
    async close() {
      await stop();
      // Only the epmd of this node's private port.
      spawnSync('epmd', ['-port', String(epmdPort), '-kill'], {
        env: { ...env },
        stdio: 'ignore',
        timeout: 10_000,
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestMosquitto {
  /** `mqtt://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A private mosquitto on 127.0.0.1 with persistence (sessions and QoS 1 messages survive a restart). */
export async function startMosquitto(): Promise<TestMosquitto> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mscr-mosquitto-'));
  const port = await freePort();
  const config = path.join(dir, 'mosquitto.conf');
  writeFileSync(
    config,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      // Run as the user who started it (as root it would switch to the mosquitto user).
      `user ${os.userInfo().username}`,
      'persistence true',
      `persistence_location ${dir}/`,
      'autosave_interval 1',
      'max_queued_messages 100000',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
    ].join('\n') + '\n',
  );
  let child: ChildProcess | undefined;
  let output = '';
  const start = async () => {
    output = '';
    const c = spawn(MOSQUITTO, ['-c', config], {
      cwd: dir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    if (c.pid !== undefined) running.add(c.pid);
    c.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    c.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    await waitForPort(port, c, 'mosquitto', () => output, 30_000);
  };
  const stop = async () => {
    if (child) await stopChild(child, 10_000);
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
