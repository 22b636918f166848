#!/usr/bin/env node
// Installs the browser the web page's end-to-end tests drive: Debian's `chromium` package at
// /usr/bin/chromium (playwright-core drives it; no browser build is downloaded by a test
// tool). Runs `apt-get install -y chromium` when it is missing and this user is root or has
// password-less sudo; otherwise it explains what to do, and the browser test fails when CI is
// set (and is skipped, saying why, on a developer machine). Plain Node, no npm dependencies.
//
// Usage: node scripts/setup-browser.mjs
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.MSCR_CHROMIUM || '/usr/bin/chromium';

function works() {
  if (!existsSync(CHROMIUM)) return undefined;
  const result = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function run(prefix, args) {
  const [command, ...rest] = [...prefix, ...args];
  const result = spawnSync(command, rest, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

const present = works();
if (present) {
  console.log(`setup-browser: ${present} at ${CHROMIUM}`);
  process.exit(0);
}

let prefix;
if (typeof process.getuid === 'function' && process.getuid() === 0) prefix = [];
else if (spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0)
  prefix = ['sudo', '-n'];

if (prefix === undefined || spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error(
    `setup-browser: ${CHROMIUM} is missing and cannot be installed here (${prefix === undefined ? 'not root and no password-less sudo' : 'no apt-get'}).\n` +
      "  Install Debian's chromium package (sudo apt-get install chromium), or set MSCR_CHROMIUM to a Chromium binary.\n" +
      '  The web page tests fail without it when CI is set, and are skipped otherwise.',
  );
  process.exit(0);
}

console.log('setup-browser: installing chromium with apt-get (about a minute)');
let install = run(prefix, ['apt-get', 'install', '-y', '--no-install-recommends', 'chromium']);
if (!install.ok) {
  // A fresh machine may not have the package lists yet.
  const update = run(prefix, ['apt-get', 'update']);
  if (update.ok)
    install = run(prefix, ['apt-get', 'install', '-y', '--no-install-recommends', 'chromium']);
}
const installed = works();
if (!install.ok || !installed) {
  console.error(
    `setup-browser: apt-get install chromium failed:\n${install.output.split('\n').slice(-15).join('\n')}`,
  );
  process.exit(1);
}
console.log(`setup-browser: installed ${installed} at ${CHROMIUM}`);
