#!/usr/bin/env node
// Installs the message brokers the broker adapters' tests start: Debian's `rabbitmq-server`
// (AMQP 0-9-1) and `mosquitto` (MQTT 3.1.1/5). The tests start private instances of both on
// free loopback ports with temporary data folders (service/brokers/test-support.ts), so the
// system services Debian would start on install must NOT be left running: installation runs
// under a policy-rc.d that forbids starting services (kept if the machine already has one),
// and any instance that is running afterwards is stopped and disabled.
// Runs `apt-get update` once, then `apt-get install -y` when a package is missing and this user
// is root or has password-less sudo; otherwise it explains what to do, and the broker tests
// fail when CI is set (and are skipped, saying why, on a developer machine).
// Plain Node, no npm dependencies.
//
// Usage: node scripts/setup-brokers.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';

export const RABBITMQ_SERVER = process.env.MSCR_RABBITMQ_SERVER || '/usr/sbin/rabbitmq-server';
export const MOSQUITTO = process.env.MSCR_MOSQUITTO || '/usr/sbin/mosquitto';
const POLICY = '/usr/sbin/policy-rc.d';

const wanted = [
  { pkg: 'rabbitmq-server', bin: RABBITMQ_SERVER, service: 'rabbitmq-server' },
  { pkg: 'mosquitto', bin: MOSQUITTO, service: 'mosquitto' },
];

function run(prefix, args, timeout = 900_000) {
  const [command, ...rest] = [...prefix, ...args];
  const result = spawnSync(command, rest, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

const missing = wanted.filter((w) => !existsSync(w.bin));
if (missing.length === 0) {
  console.log(`setup-brokers: ${wanted.map((w) => w.bin).join(' and ')} present`);
  process.exit(0);
}

let prefix;
if (typeof process.getuid === 'function' && process.getuid() === 0) prefix = [];
else if (spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0)
  prefix = ['sudo', '-n'];

if (prefix === undefined || spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error(
    `setup-brokers: ${missing.map((m) => m.pkg).join(', ')} missing and cannot be installed here (${prefix === undefined ? 'not root and no password-less sudo' : 'no apt-get'}).\n` +
      `  Install Debian's packages (sudo apt-get install ${missing.map((m) => m.pkg).join(' ')}) and stop their system services,\n` +
      '  or set MSCR_RABBITMQ_SERVER / MSCR_MOSQUITTO to the binaries.\n' +
      '  The broker tests fail without them when CI is set, and are skipped otherwise.',
  );
  process.exit(0);
}

const started = Date.now();
// Debian starts a package's service on install unless policy-rc.d says no (exit 101). The
// tests start their own private brokers; a system broker would hold ports 5672/1883 and run
// forever. Install our own policy only when none exists, and remove only ours.
let ownPolicy = false;
if (!existsSync(POLICY)) {
  const text = '#!/bin/sh\n# mscr setup-brokers: no service starts during this install\nexit 101\n';
  if (prefix.length === 0) {
    writeFileSync(POLICY, text, { mode: 0o755 });
    ownPolicy = true;
  } else {
    ownPolicy = run(prefix, [
      'sh',
      '-c',
      `printf '%s' '${text}' > ${POLICY} && chmod 755 ${POLICY}`,
    ]).ok;
  }
}
try {
  console.log(
    `setup-brokers: installing ${missing.map((m) => m.pkg).join(' ')} with apt-get (a minute or two)`,
  );
  const update = run(prefix, ['apt-get', 'update']);
  if (!update.ok) console.error(`setup-brokers: apt-get update failed, trying the install anyway`);
  const install = run(prefix, [
    'apt-get',
    'install',
    '-y',
    '--no-install-recommends',
    ...missing.map((m) => m.pkg),
  ]);
  if (!install.ok) {
    console.error(
      `setup-brokers: apt-get install failed:\n${install.output.split('\n').slice(-15).join('\n')}`,
    );
    process.exit(1);
  }
} finally {
  if (ownPolicy) {
    if (prefix.length === 0) unlinkSync(POLICY);
    else run(prefix, ['rm', '-f', POLICY]);
  }
}

// Belt and braces: where a service manager did start a system instance, stop and disable it.
for (const w of missing) {
  if (spawnSync('systemctl', ['--version'], { stdio: 'ignore' }).status === 0) {
    run(prefix, ['systemctl', 'disable', '--now', w.service], 120_000);
  } else if (existsSync(`/etc/init.d/${w.service}`)) {
    const status = run(prefix, [`/etc/init.d/${w.service}`, 'status'], 60_000);
    if (status.ok) run(prefix, [`/etc/init.d/${w.service}`, 'stop'], 120_000);
  }
}

const still = wanted.filter((w) => !existsSync(w.bin));
if (still.length > 0) {
  console.error(`setup-brokers: ${still.map((w) => w.bin).join(', ')} still missing after install`);
  process.exit(1);
}
console.log(
  `setup-brokers: installed ${missing.map((m) => m.pkg).join(' and ')} in ${((Date.now() - started) / 1000).toFixed(1)} s (system services not running)`,
);
