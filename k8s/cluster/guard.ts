/**
 * The network guard: iptables rules that drop every packet to or from the cluster's ranges
 * (pods, Services, the node address) that would leave through any interface other than the
 * cluster's own (loopback, the dummy node interface, the pod bridge). It is installed before
 * anything of the cluster starts and removed last by teardown.
 *
 * Hooked into mangle POSTROUTING (after routing and after kube-proxy's DNAT of locally sent
 * packets, before masquerading, and ahead of any ACCEPT kube-proxy inserts into filter) and,
 * as a second line, into filter FORWARD and OUTPUT. Without it, a ClusterIP without
 * kube-proxy rules was routed out of the machine when this was first tried.
 */
import { CNI_BRIDGE, DUMMY_INTERFACE, GUARDED_RANGES } from './layout.ts';
import { must, run } from './host.ts';

export const GUARD_CHAIN = 'MSCR-GUARD';
const HOOKS = [
  { table: 'mangle', chain: 'POSTROUTING' },
  { table: 'filter', chain: 'FORWARD' },
  { table: 'filter', chain: 'OUTPUT' },
] as const;
const TABLES = [...new Set(HOOKS.map((h) => h.table))];
/** Interfaces the cluster's packets may use. */
const OWN_INTERFACES = ['lo', DUMMY_INTERFACE, CNI_BRIDGE];

/** The guard chain's rules, in order. */
export function guardRules(externalInterfaces: string[]): string[][] {
  const rules: string[][] = [];
  // Named drops first, so the counters show what tried to leave and where.
  for (const iface of externalInterfaces) {
    for (const range of GUARDED_RANGES) {
      rules.push(['-o', iface, '-d', range, '-j', 'DROP']);
      rules.push(['-o', iface, '-s', range, '-j', 'DROP']);
    }
  }
  // Then any other interface, including ones that appear later: only our own may carry them.
  for (const iface of OWN_INTERFACES) rules.push(['-o', iface, '-j', 'RETURN']);
  for (const range of GUARDED_RANGES) {
    rules.push(['-d', range, '-j', 'DROP']);
    rules.push(['-s', range, '-j', 'DROP']);
  }
  return rules;
}

export function installGuard(externalInterfaces: string[]): void {
  removeGuard();
  for (const table of TABLES) {
    must('iptables', ['-w', '-t', table, '-N', GUARD_CHAIN]);
    for (const rule of guardRules(externalInterfaces)) {
      must('iptables', ['-w', '-t', table, '-A', GUARD_CHAIN, ...rule]);
    }
  }
  for (const { table, chain } of HOOKS) {
    must('iptables', ['-w', '-t', table, '-I', chain, '1', '-j', GUARD_CHAIN]);
  }
}

/** Removes the hooks and the chains; a no-op when they are not there. */
export function removeGuard(): void {
  for (const { table, chain } of HOOKS) {
    while (run('iptables', ['-w', '-t', table, '-D', chain, '-j', GUARD_CHAIN]).status === 0);
  }
  for (const table of TABLES) {
    if (run('iptables', ['-w', '-t', table, '-F', GUARD_CHAIN]).status === 0) {
      must('iptables', ['-w', '-t', table, '-X', GUARD_CHAIN]);
    }
  }
}

/** Whether every hook jumps to the guard and the guard chain holds its rules. */
export function guardInstalled(externalInterfaces: string[]): boolean {
  const expected = guardRules(externalInterfaces).length;
  return TABLES.every((table) => {
    const listed = run('iptables', ['-w', '-t', table, '-S', GUARD_CHAIN]);
    if (listed.status !== 0) return false;
    const rules = listed.stdout.split('\n').filter((l) => l.startsWith(`-A ${GUARD_CHAIN} `));
    const hooked = HOOKS.filter((h) => h.table === table).every(
      (h) => run('iptables', ['-w', '-t', table, '-C', h.chain, '-j', GUARD_CHAIN]).status === 0,
    );
    return hooked && rules.length === expected;
  });
}
