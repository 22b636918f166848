/**
 * Runs a built image without a container engine: the docker-archive is converted to an OCI
 * layout (skopeo), unpacked into a runtime bundle (umoci) and started with runc, sharing the
 * host's network namespace so a server inside listens on this machine's loopback only.
 * For the tests in docker/built-images.test.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], input?: string): RunResult {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    input,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function mustRun(command: string, args: string[]): string {
  const result = run(command, args);
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

/** The OCI runtime spec fields the tests change (config.json as umoci writes it). */
interface RuntimeSpec {
  root: { path: string; readonly?: boolean };
  process: {
    terminal?: boolean;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    oomScoreAdj?: number;
  };
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
  linux: { namespaces: { type: string; path?: string }[] };
}

export interface Bundle {
  dir: string;
  rootfs: string;
  spec: RuntimeSpec;
}

/** Unpacks a docker-archive into `<dir>/bundle` (rootfs + config.json). */
export function unpackArchive(archive: string, dir: string): Bundle {
  const layout = join(dir, 'layout');
  mustRun('skopeo', ['copy', '--quiet', `docker-archive:${archive}`, `oci:${layout}:image`]);
  const bundle = join(dir, 'bundle');
  mustRun('umoci', ['unpack', '--image', `${layout}:image`, bundle]);
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as RuntimeSpec;
  return { dir: bundle, rootfs: join(bundle, 'rootfs'), spec };
}

export interface RunOptions {
  /** Replaces the image's ENTRYPOINT + CMD. */
  args?: string[];
  /** Added to (or replacing) the image's environment. */
  env?: Record<string, string>;
  /** host path -> container path bind mounts (read-write). */
  binds?: Record<string, string>;
  /** Writable tmpfs mounts, like the chart's emptyDirs beside a read-only root. */
  tmpfs?: string[];
  readonlyRoot?: boolean;
}

/** Writes config.json for one run: host network, no oom_score_adj (runc may not set it here). */
export function configure(bundle: Bundle, options: RunOptions): RuntimeSpec {
  const spec = structuredClone(bundle.spec);
  spec.process.terminal = false;
  delete spec.process.oomScoreAdj;
  if (options.args) spec.process.args = options.args;
  const env = new Map(spec.process.env.map((e) => [e.slice(0, e.indexOf('=')), e] as const));
  for (const [name, value] of Object.entries(options.env ?? {})) env.set(name, `${name}=${value}`);
  spec.process.env = [...env.values()];
  // The host's network namespace: the server binds 127.0.0.1 and is reached on loopback.
  spec.linux.namespaces = spec.linux.namespaces.filter((ns) => ns.type !== 'network');
  spec.root.readonly = options.readonlyRoot ?? false;
  // umoci turns each VOLUME into a fresh root-owned tmpfs (source "none"); a container
  // engine (and a pod's fsGroup) gives a new volume the image folder's owner and mode, which
  // the images rely on (MinIO writes /data as its own user). Tmpfs asked for below win.
  spec.mounts = spec.mounts.flatMap((mount) => {
    if (mount.type !== 'tmpfs' || mount.source !== 'none') return [mount];
    if (options.tmpfs?.includes(mount.destination)) return [];
    const folder = statSync(join(bundle.rootfs, mount.destination));
    const owner = [
      `uid=${folder.uid}`,
      `gid=${folder.gid}`,
      `mode=${(folder.mode & 0o7777).toString(8)}`,
    ];
    return [{ ...mount, options: [...(mount.options ?? []), ...owner] }];
  });
  for (const [source, destination] of Object.entries(options.binds ?? {})) {
    mkdirSync(join(bundle.rootfs, destination), { recursive: true });
    spec.mounts.push({ destination, type: 'bind', source, options: ['rbind', 'rw'] });
  }
  for (const destination of options.tmpfs ?? []) {
    spec.mounts.push({
      destination,
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'mode=1777', 'size=256m'],
    });
  }
  writeFileSync(join(bundle.dir, 'config.json'), JSON.stringify(spec, null, 2));
  return spec;
}

export interface Container {
  id: string;
  process: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  exec(args: string[]): RunResult;
  signal(signal: string): RunResult;
  /** Kills and deletes the container if it still exists. */
  remove(): void;
}

/** `runc run` in the foreground (its exit status is the container's), state under stateDir. */
export function start(bundle: Bundle, id: string, stateDir: string): Container {
  mkdirSync(stateDir, { recursive: true });
  const runc = (args: string[]) => run('runc', ['--root', stateDir, ...args]);
  const child = spawn('runc', ['--root', stateDir, 'run', '--bundle', bundle.dir, id], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    id,
    process: child,
    output: () => output,
    exited,
    exec: (args) => runc(['exec', id, ...args]),
    signal: (signal) => runc(['kill', id, signal]),
    remove() {
      runc(['kill', id, 'KILL']);
      runc(['delete', '--force', id]);
    },
  };
}
