/**
 * The state file: what a cluster run changed on the host, written before each change so that
 * teardown can undo it, also after the run was killed (the next start tears down first).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface ProcessRecord {
  pid: number;
  /** The executable, checked against /proc/<pid>/cmdline before a signal is sent. */
  binary: string;
}

export interface HostState {
  version: 1;
  startedAt: string;
  /** Sysctls as they were before the run (null: the setting did not exist). */
  sysctls: Record<string, string | null>;
  /** Host paths the run may create, and whether each existed before. */
  existedBefore: Record<string, boolean>;
  /** Network namespaces (/run/netns) that existed before. */
  netnsBefore: string[];
  /** iptables/ip6tables chains (`<tool> <table> <chain>`) that existed before. */
  chainsBefore: string[];
  guard: boolean;
  dummy: boolean;
  processes: Record<string, ProcessRecord>;
}

export function readState(path: string): HostState | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as HostState;
  } catch {
    // A state file cut short by a kill: teardown still cleans what it can find by name.
    return null;
  }
}

/** Writes atomically, so a kill never leaves half a file. */
export function writeState(path: string, state: HostState): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

export function removeState(path: string): void {
  rmSync(path, { force: true });
}
