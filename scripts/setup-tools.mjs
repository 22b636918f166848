#!/usr/bin/env node
// Installs the Go tools the project shells out to (helm, k6, minio, fake-gcs-server) at the
// versions pinned in scripts/tools.json, using only `go install <module>@<version>`.
// Plain Node with no npm dependencies, so it works on a fresh clone before `npm install`.
//
// Usage: node scripts/setup-tools.mjs [name...]   (no names = all tools)
//        node scripts/setup-tools.mjs --list      (pinned table and what is installed)
//
// Each version is built once into a cache outside the repository
// (${XDG_CACHE_HOME:-~/.cache}/mscr/tools/<name>@<version>/) and then linked into .tools/bin/,
// so another clone or a `git clean -fdx` costs a link instead of a multi-minute build.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const tools = JSON.parse(readFileSync(new URL('tools.json', import.meta.url), 'utf8'));
const binDir = join(root, '.tools', 'bin');
const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mscr', 'tools');

// Some tools read their version from -X ldflags; tools.json writes it as {version}.
const ldflagsOf = (tool) => (tool.ldflags ?? '').replaceAll('{version}', tool.version);

function fail(message) {
  console.error(`setup-tools: ${message}`);
  process.exit(1);
}

function go(args, env = {}) {
  const result = spawnSync('go', args, {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error?.code === 'ENOENT') {
    fail('`go` is not on PATH; install Go (https://go.dev/dl/, 1.26 or newer) and re-run.');
  }
  return result;
}

// What `go version -m` says a binary was built from, or null if it is missing or not a Go binary.
// The build line is needed too: the same version built with other ldflags (e.g. a fixed helm
// version string) must count as stale, or a tools.json fix would never reach existing installs.
function inspect(binary) {
  if (!existsSync(binary)) return null;
  const { status, stdout } = go(['version', '-m', binary]);
  if (status !== 0) return null;
  const info = { mods: new Map(), ldflags: '' };
  for (const line of stdout.split('\n')) {
    const [kind, key, value] = line.trim().split('\t');
    if (kind === 'mod') info.mods.set(key, value);
    if (kind === 'build' && key?.startsWith('-ldflags=')) {
      const raw = key.slice('-ldflags='.length);
      info.ldflags = raw.startsWith('"') ? JSON.parse(raw) : raw;
    }
  }
  return info;
}

function describe(tool, binary) {
  const info = inspect(binary);
  if (!info) return 'missing';
  const version = info.mods.get(tool.module);
  if (version !== tool.version) return `wrong version (${version ?? 'unknown module'})`;
  if (info.ldflags !== ldflagsOf(tool)) return 'built with other ldflags';
  return 'ok';
}

// Always remove the old file first: .tools/bin/<name> may be a hard link into the cache of
// another version, and copying over it would overwrite that cached binary in place.
function link(from, to) {
  rmSync(to, { force: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to); // different filesystem (EXDEV) or no hard links: copy instead
  }
}

function install(name) {
  const tool = tools[name];
  const label = `${name} ${tool.version}`;
  const target = join(binDir, name);
  const shown = relative(process.cwd(), target) || target;
  if (describe(tool, target) === 'ok') {
    console.log(`${label}: already installed (${shown})`);
    return true;
  }
  const cacheDir = join(cacheRoot, `${name}@${tool.version}`);
  // go install names the binary after the package's last path element.
  const cached = join(cacheDir, basename(tool.package));
  if (describe(tool, cached) === 'ok') {
    link(cached, target);
    console.log(`${label}: linked from cache ${cached} (${shown})`);
    return true;
  }
  const spec = `${tool.package}@${tool.version}`;
  process.stdout.write(`${label}: building with go install ${spec} ... `);
  const started = Date.now();
  mkdirSync(cacheDir, { recursive: true });
  // CGO_ENABLED=0 gives static binaries that need no C toolchain; -trimpath keeps local paths
  // out of them. The caller's GOFLAGS is dropped: flags like -mod=vendor make module@version
  // installs fail, and an -ldflags there would clash with ours.
  const args = ['install', '-trimpath', `-ldflags=${ldflagsOf(tool)}`, spec];
  const result = go(args, { GOBIN: cacheDir, CGO_ENABLED: '0', GOFLAGS: '' });
  const seconds = Math.round((Date.now() - started) / 1000);
  if (result.status !== 0 || describe(tool, cached) !== 'ok') {
    console.log(`failed after ${seconds} s`);
    const tail = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim().split('\n').slice(-25);
    console.error(`setup-tools: ${name} ${tool.version} did not build:`);
    console.error(`  go ${args.join(' ')}  (GOBIN=${cacheDir} CGO_ENABLED=0)`);
    console.error(tail.map((line) => `  | ${line}`).join('\n'));
    if (tool.note) console.error(`  note: ${tool.note}`);
    return false;
  }
  link(cached, target);
  console.log(`done in ${seconds} s`);
  return true;
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log('usage: node scripts/setup-tools.mjs [--list] [name...]');
  console.log(`tools: ${Object.keys(tools).join(', ')}`);
  process.exit(0);
}
go(['version']); // fails early with a clear message if go is missing
mkdirSync(binDir, { recursive: true });

if (args.includes('--list')) {
  const rows = Object.entries(tools).map(([name, tool]) => [
    name,
    tool.version,
    tool.package,
    describe(tool, join(binDir, name)).replace(/^ok$/, `installed (.tools/bin/${name})`),
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  '));
  process.exit(0);
}

const unknown = args.filter((name) => !Object.hasOwn(tools, name));
if (unknown.length > 0) {
  fail(`unknown tool ${unknown.join(', ')}; known: ${Object.keys(tools).join(', ')}`);
}
const failed = (args.length > 0 ? args : Object.keys(tools)).filter((name) => !install(name));
if (failed.length > 0) fail(`failed to install ${failed.join(', ')} (see above)`);
