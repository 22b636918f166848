/**
 * Small wrappers around the host commands the cluster needs (ip, iptables, mount, sysctl
 * through /proc/sys). Failures throw MscrError-free plain errors with the command and its
 * output, since they are host setup problems the user fixes, not API errors.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; never throws (status -1 when it could not start). */
export function run(command: string, args: string[], input?: string): RunResult {
  const result = spawnSync(command, args, { encoding: 'utf8', input, timeout: 120_000 });
  if (result.error) return { status: -1, stdout: '', stderr: result.error.message };
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a command and throws with its output when it fails. */
export function must(command: string, args: string[], input?: string): string {
  const result = run(command, args, input);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  }
  return result.stdout;
}

const sysctlPath = (name: string) => `/proc/sys/${name.replaceAll('.', '/')}`;

/** A sysctl's value, or null when the kernel has no such setting (module not loaded). */
export function readSysctl(name: string): string | null {
  const path = sysctlPath(name);
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : null;
}

export function writeSysctl(name: string, value: string): void {
  writeFileSync(sysctlPath(name), `${value}\n`);
}

/** Interfaces of the default routes (IPv4 and IPv6): where traffic leaves the machine. */
export function externalInterfaces(): string[] {
  const found = new Set<string>();
  for (const family of ['-4', '-6']) {
    const out = run('ip', ['-j', family, 'route', 'show', 'default']);
    if (out.status !== 0 || !out.stdout.trim()) continue;
    for (const route of JSON.parse(out.stdout) as { dev?: string }[]) {
      if (route.dev) found.add(route.dev);
    }
  }
  return [...found];
}

export function linkExists(name: string): boolean {
  return run('ip', ['link', 'show', 'dev', name]).status === 0;
}

/** Names of the interfaces attached to a bridge (the host ends of pod veths). */
export function bridgePorts(bridge: string): string[] {
  const out = run('ip', ['-j', 'link', 'show', 'master', bridge]);
  if (out.status !== 0 || !out.stdout.trim()) return [];
  return (JSON.parse(out.stdout) as { ifname: string }[]).map((link) => link.ifname);
}

/** Mount points at or below any of `prefixes`, deepest first (the order to unmount them). */
export function mountsUnder(prefixes: string[]): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => !!point)
    .map((point) => point.replace(/\\040/g, ' '))
    .filter((point) => prefixes.some((p) => point === p || point.startsWith(`${p}/`)));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** The command line of a process, or null when it is gone. */
export function commandLine(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
