/**
 * What the cluster may change on the host, captured so a test can compare before and after:
 * sysctls, network interfaces, iptables chains, mounts in the run folder, kubepods cgroups,
 * host paths, and processes running from .tools/bin or the cluster's containerd.
 */
import { existsSync, readdirSync } from 'node:fs';
import { SYSCTLS } from './cluster.ts';
import type { Layout } from './layout.ts';
import { commandLine, mountsUnder, readSysctl, run } from './host.ts';
import { GUARD_CHAIN } from './guard.ts';
import { HOST_PATHS, clusterChains, kubepodsCgroups, netnsNames } from './teardown.ts';

export interface HostSnapshot {
  sysctls: Record<string, string | null>;
  interfaces: string[];
  routes: string[];
  chains: string[];
  guardChains: string[];
  mounts: string[];
  cgroups: string[];
  paths: Record<string, boolean>;
  netns: string[];
  processes: string[];
}

function interfaces(): string[] {
  const out = run('ip', ['-j', 'link', 'show']);
  return (JSON.parse(out.stdout || '[]') as { ifname: string }[]).map((l) => l.ifname).sort();
}

function routes(): string[] {
  return run('ip', ['route', 'show']).stdout.split('\n').filter(Boolean).sort();
}

function clusterProcesses(layout: Layout): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = commandLine(Number(entry));
    const exe = cmd?.[0] ?? '';
    if (exe.startsWith(layout.binDir) || cmd?.some((a) => a.startsWith(layout.run))) {
      found.push(`${entry} ${exe}`);
    }
  }
  return found.sort();
}

export function hostSnapshot(layout: Layout): HostSnapshot {
  const guardChains = ['mangle', 'filter'].filter(
    (table) => run('iptables', ['-w', '-t', table, '-S', GUARD_CHAIN]).status === 0,
  );
  return {
    sysctls: Object.fromEntries(SYSCTLS.map((name) => [name, readSysctl(name)])),
    interfaces: interfaces(),
    routes: routes(),
    chains: clusterChains().sort(),
    guardChains,
    mounts: mountsUnder([layout.run, '/run/netns']),
    cgroups: kubepodsCgroups(),
    paths: Object.fromEntries(HOST_PATHS.map((p) => [p, existsSync(p)])),
    netns: netnsNames().sort(),
    processes: clusterProcesses(layout),
  };
}
