/**
 * The node's long-running processes (containerd, kubelet, kube-proxy, KWOK), started detached
 * so that `cluster:up` can exit and leave them running; their ids go into the state file, and
 * teardown stops them by id after checking the id still belongs to the same executable.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, sleep } from './host.ts';
import type { ProcessRecord } from './state.ts';

export function logPath(logs: string, name: string): string {
  return join(logs, `${name}.log`);
}

export function logTail(logs: string, name: string, lines = 30): string {
  const path = logPath(logs, name);
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

export function startDetached(
  logs: string,
  name: string,
  binary: string,
  args: string[],
): ProcessRecord {
  mkdirSync(logs, { recursive: true });
  const log = openSync(logPath(logs, name), 'a');
  const child = spawn(binary, args, { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  child.unref();
  if (!child.pid) throw new Error(`${binary} did not start`);
  return { pid: child.pid, binary };
}

/** Whether the process runs and is still the recorded executable (ids are reused). */
export function isRunning(record: ProcessRecord): boolean {
  const cmd = commandLine(record.pid);
  if (!cmd || cmd.length === 0) return false;
  if (cmd[0] !== record.binary) return false;
  // A zombie (exited, not yet reaped by its parent) counts as gone.
  try {
    const stat = readFileSync(`/proc/${record.pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopProcess(record: ProcessRecord, graceMs = 10_000): Promise<void> {
  if (!isRunning(record)) return;
  process.kill(record.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isRunning(record) && Date.now() < deadline) await sleep(100);
  if (isRunning(record)) {
    process.kill(record.pid, 'SIGKILL');
    while (isRunning(record)) await sleep(100);
  }
}
