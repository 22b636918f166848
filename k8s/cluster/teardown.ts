/**
 * Teardown: stops everything the cluster started and puts the host back as the state file
 * says it was. It also runs before every start, so a killed run (test process killed, machine
 * not rebooted) is cleaned by the next one. Each step is best effort and continues after a
 * failure; the problems are returned so the caller can report (and tests can fail on) them.
 *
 * Order: processes (kubelet first so nothing restarts containers, then the containers, the
 * runtime, the control plane), mounts, network namespaces, cgroups, the pod bridge and the
 * dummy interface, the iptables chains of kube-proxy and kubelet, sysctls, files, and the
 * guard last of all.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync } from 'node:fs';
import { statSync } from 'node:fs';
import type { Dirent } from 'node:fs';
import { join } from 'node:path';
import { CNI_BRIDGE, DUMMY_INTERFACE } from './layout.ts';
import type { Layout } from './layout.ts';
import { bridgePorts, commandLine, linkExists, mountsUnder, must, run, sleep } from './host.ts';
import { writeSysctl, readSysctl } from './host.ts';
import { removeGuard } from './guard.ts';
import { CNI_NETWORK } from './containerd.ts';
import { stopProcess } from './processes.ts';
import { readState, removeState } from './state.ts';
import type { HostState } from './state.ts';

/** Host paths outside the run folder that containerd, runc, CNI or kubelet may create. */
export const HOST_PATHS = ['/run/containerd', '/var/lib/cni', '/var/log/containers', '/run/netns'];
/** Chain name prefixes of kube-proxy, kubelet and CNI plugins. */
const CHAIN_PREFIXES = ['KUBE-', 'CNI-'];
const IPTABLES = ['iptables', 'ip6tables'];
const TABLES = ['filter', 'nat', 'mangle', 'raw'];
/** The top of each cgroup v1 hierarchy (and the v2 one of a hybrid host). */
const CGROUP_ROOT = '/sys/fs/cgroup';

/** `<tool> <table> <chain>` of every chain named like kube-proxy's, kubelet's or CNI's. */
export function clusterChains(): string[] {
  const found: string[] = [];
  for (const tool of IPTABLES) {
    for (const table of TABLES) {
      const listed = run(tool, ['-w', '-t', table, '-S']);
      if (listed.status !== 0) continue;
      for (const line of listed.stdout.split('\n')) {
        const chain = /^-N (\S+)/.exec(line)?.[1];
        if (chain && CHAIN_PREFIXES.some((p) => chain.startsWith(p))) {
          found.push(`${tool} ${table} ${chain}`);
        }
      }
    }
  }
  return found;
}

/** Folders named kubepods in each cgroup hierarchy (where kubelet puts every pod). */
export function kubepodsCgroups(): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  return readdirSync(CGROUP_ROOT)
    .map((controller) => join(CGROUP_ROOT, controller, 'kubepods'))
    .filter((dir) => existsSync(dir));
}

export function netnsNames(): string[] {
  return existsSync('/run/netns') ? readdirSync('/run/netns') : [];
}

/** Every folder below `dir`, deepest first. */
function subdirsDeepestFirst(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (error) {
      // containerd and the kubelet remove pod cgroups while they still run (the first
      // round of killContainers): a folder gone between listing and reading is no problem.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) walk(join(d, entry.name));
    }
    found.push(d);
  };
  walk(dir);
  return found;
}

function cgroupProcs(dir: string): number[] {
  const pids: number[] = [];
  for (const sub of subdirsDeepestFirst(dir)) {
    try {
      for (const line of readFileSync(join(sub, 'cgroup.procs'), 'utf8').split('\n')) {
        if (line.trim()) pids.push(Number(line));
      }
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export interface TeardownReport {
  /** Steps that did not fully succeed. */
  problems: string[];
  /** Whether there was anything to tear down. */
  found: boolean;
  /** Seconds each step took, by step (for finding a slow one). */
  seconds: Record<string, number>;
}

let timings: Record<string, number> = {};

async function step(problems: string[], what: string, action: () => unknown): Promise<void> {
  const started = Date.now();
  try {
    await action();
  } catch (error) {
    problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
  timings[what] = (timings[what] ?? 0) + (Date.now() - started) / 1000;
}

/** Kills every process of the cluster's containerd: shims (found by our socket) and pods. */
async function killContainers(layout: Layout, problems: string[]): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const victims = new Set<number>();
    for (const dir of kubepodsCgroups()) for (const pid of cgroupProcs(dir)) victims.add(pid);
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cmd = commandLine(Number(entry));
      if (cmd?.[0]?.endsWith('containerd-shim-runc-v2') && cmd.includes(layout.containerdSocket)) {
        victims.add(Number(entry));
      }
    }
    victims.delete(process.pid);
    if (victims.size === 0) return;
    for (const pid of victims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await sleep(250);
  }
  problems.push('processes of the pods survived SIGKILL');
}

function unmountAll(points: string[], problems: string[]): void {
  for (const point of points) {
    if (run('umount', [point]).status !== 0 && run('umount', ['-l', point]).status !== 0) {
      problems.push(`could not unmount ${point}`);
    }
  }
}

/** Removes a cgroup tree bottom-up (rmdir only: a cgroup folder cannot be rm -r'd). */
function removeCgroup(dir: string, problems: string[]): void {
  for (const sub of subdirsDeepestFirst(dir)) {
    try {
      rmdirSync(sub);
    } catch (error) {
      problems.push(`cgroup ${sub}: ${(error as Error).message}`);
    }
  }
}

/**
 * Deletes the rules of other chains that jump into `chains`, then flushes and deletes them:
 * one `iptables-restore --noflush` per table (kube-proxy leaves hundreds of chains; one
 * command each took over a minute), rule by rule only if that fails.
 */
function removeChains(chains: string[], problems: string[]): void {
  const byTable = new Map<string, Set<string>>();
  for (const entry of chains) {
    const [tool, table, chain] = entry.split(' ') as [string, string, string];
    const key = `${tool} ${table}`;
    byTable.set(key, (byTable.get(key) ?? new Set()).add(chain));
  }
  for (const [key, names] of byTable) {
    const [tool, table] = key.split(' ') as [string, string];
    const jumps: string[] = [];
    for (const rule of run(tool, ['-w', '-t', table, '-S']).stdout.split('\n')) {
      const match = /^-A (\S+) (.*)$/.exec(rule);
      if (!match || names.has(match[1]!)) continue;
      const target = /(?:-j|-g) (\S+)/.exec(match[2]!)?.[1];
      if (target && names.has(target)) jumps.push(`-D ${match[1]} ${match[2]}`);
    }
    const flush = [...names].map((chain) => `-F ${chain}`);
    const remove = [...names].map((chain) => `-X ${chain}`);
    const input = [`*${table}`, ...jumps, ...flush, ...remove, 'COMMIT', ''].join('\n');
    if (run(`${tool}-restore`, ['-w', '--noflush'], input).status === 0) continue;
    // The rule text of -S is what -D accepts (quoted comments included, via a shell).
    for (const jump of jumps) run('sh', ['-c', `${tool} -w -t ${table} ${jump}`]);
    for (const chain of names) run(tool, ['-w', '-t', table, '-F', chain]);
    for (const chain of names) {
      if (run(tool, ['-w', '-t', table, '-X', chain]).status !== 0) {
        problems.push(`${tool} -t ${table}: could not delete chain ${chain}`);
      }
    }
  }
}

/**
 * Tears down the cluster recorded in the state file. Without a state file, does nothing
 * (there is no record of what the host looked like before).
 */
export async function teardown(layout: Layout): Promise<TeardownReport> {
  const state: HostState | null = readState(layout.stateFile);
  const problems: string[] = [];
  timings = {};
  if (!state) {
    if (existsSync(layout.stateFile)) problems.push('unreadable state file; removed');
    removeState(layout.stateFile);
    return { problems, found: false, seconds: {} };
  }
  const order = ['kwok', 'kubelet', 'kube-proxy', 'metrics', 'kube-scheduler'];
  const names = Object.keys(state.processes).sort((a, b) => {
    const rank = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
    return rank(a) - rank(b);
  });
  // Node agents first; containerd and the control plane after the containers are gone.
  const late = ['containerd', 'kube-controller-manager', 'kube-apiserver', 'etcd'];
  for (const name of names.filter((n) => !late.includes(n))) {
    await step(problems, `stop ${name}`, () => stopProcess(state.processes[name]!));
  }
  await step(problems, 'kill containers', () => killContainers(layout, problems));
  for (const name of late) {
    const record = state.processes[name];
    if (record) await step(problems, `stop ${name}`, () => stopProcess(record));
  }
  await step(problems, 'kill containers', () => killContainers(layout, problems));

  const newNetns = netnsNames().filter((n) => !state.netnsBefore.includes(n));
  await step(problems, 'unmount', () =>
    unmountAll(mountsUnder([layout.run, ...newNetns.map((n) => `/run/netns/${n}`)]), problems),
  );
  for (const name of newNetns) {
    await step(problems, `netns ${name}`, () => rmSync(`/run/netns/${name}`, { force: true }));
  }
  for (const dir of kubepodsCgroups()) {
    await step(problems, `cgroup ${dir}`, () => removeCgroup(dir, problems));
  }
  await step(problems, 'pod bridge', () => {
    for (const port of bridgePorts(CNI_BRIDGE)) run('ip', ['link', 'del', port]);
    if (linkExists(CNI_BRIDGE)) must('ip', ['link', 'del', CNI_BRIDGE]);
  });
  if (state.dummy || linkExists(DUMMY_INTERFACE)) {
    await step(problems, 'dummy interface', () => {
      if (linkExists(DUMMY_INTERFACE)) must('ip', ['link', 'del', DUMMY_INTERFACE]);
    });
  }
  await step(problems, 'iptables chains', () =>
    removeChains(
      clusterChains().filter((c) => !state.chainsBefore.includes(c)),
      problems,
    ),
  );
  for (const [name, value] of Object.entries(state.sysctls)) {
    if (value === null) continue;
    await step(problems, `sysctl ${name}`, () => {
      if (readSysctl(name) !== value) writeSysctl(name, value);
    });
  }
  await step(problems, 'files', () => {
    // Symlinks kubelet made in /var/log/containers point into our pod log folder.
    if (existsSync('/var/log/containers')) {
      for (const entry of readdirSync('/var/log/containers')) {
        const path = join('/var/log/containers', entry);
        try {
          if (readlinkSync(path).startsWith(layout.podLogs)) rmSync(path);
        } catch {
          // not a symlink
        }
      }
    }
    // libcni's result cache, when /var/lib/cni was there before (else it goes below).
    const results = '/var/lib/cni/results';
    if (existsSync(results)) {
      for (const entry of readdirSync(results)) {
        if (entry.startsWith(`${CNI_NETWORK}-`)) rmSync(join(results, entry), { force: true });
      }
    }
    for (const path of HOST_PATHS) {
      if (state.existedBefore[path] || !existsSync(path)) continue;
      if (path === '/var/lib/cni' || path === '/run/containerd') {
        rmSync(path, { recursive: true, force: true });
      } else if (statSync(path).isDirectory() && readdirSync(path).length === 0) {
        rmdirSync(path);
      } else {
        problems.push(`${path} is not empty; left in place`);
      }
    }
    rmSync(layout.run, { recursive: true, force: true });
    rmSync(layout.userKubeconfig, { force: true });
  });
  await step(problems, 'guard', () => removeGuard());
  removeState(layout.stateFile);
  return { problems, found: true, seconds: timings };
}
