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
    fail('`go` is not on PATH; install Go 1.26 or newer (https://go.dev/dl/) and re-run.');
  }
  return result;
}

// The version of tool.module a binary was built from, per `go version -m` (which prints
// `mod <module> <version>`), or null if the binary is missing or not a Go binary.
// Only the version can be checked: with -trimpath, go leaves -ldflags out of the build info,
// so after changing a tool's ldflags without bumping it, delete its cache dir to rebuild.
function installedVersion(tool, binary) {
  if (!existsSync(binary)) return null;
  const { status, stdout } = go(['version', '-m', binary]);
  if (status !== 0) return null;
  for (const line of stdout.split('\n')) {
    const [kind, module, version] = line.trim().split('\t');
    if (kind === 'mod' && module === tool.module) return version ?? null;
  }
  return null;
}

// Always remove the old file first: .tools/bin/<name> may be a hard link into the cache of
// another version, and copying over it would overwrite that cached binary in place.
function link(from, to) {
  rmSync(to, { force: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to); // cache on another filesystem (EXDEV): copy instead
  }
}

function install(name) {
  const tool = tools[name];
  const label = `${name} ${tool.version}`;
  const target = join(binDir, name);
  const shown = relative(process.cwd(), target) || target;
  if (installedVersion(tool, target) === tool.version) {
    console.log(`${label}: already installed (${shown})`);
    return true;
  }
  const cacheDir = join(cacheRoot, `${name}@${tool.version}`);
  const cached = join(cacheDir, basename(tool.package)); // go install names it after the package
  if (installedVersion(tool, cached) === tool.version) {
    link(cached, target);
    console.log(`${label}: linked from cache ${cached} (${shown})`);
    return true;
  }
  const spec = `${tool.package}@${tool.version}`;
  process.stdout.write(`${label}: building with go install ${spec} ... `);
  const started = Date.now();
  mkdirSync(cacheDir, { recursive: true });
  // Some tools take their version string from -X ldflags; tools.json writes it as {version}.
  const ldflags = (tool.ldflags ?? '').replaceAll('{version}', tool.version);
  const args = ['install', '-trimpath', ...(ldflags ? [`-ldflags=${ldflags}`] : []), spec];
  // CGO_ENABLED=0 gives static binaries that need no C toolchain; -trimpath keeps local paths
  // out of them. The caller's GOFLAGS is dropped: flags like -mod=vendor make module@version
  // installs fail, and an -ldflags there would clash with ours.
  const result = go(args, { GOBIN: cacheDir, CGO_ENABLED: '0', GOFLAGS: '' });
  const seconds = Math.round((Date.now() - started) / 1000);
  const built = result.status === 0 ? installedVersion(tool, cached) : null;
  if (built !== tool.version) {
    console.log(`failed after ${seconds} s`);
    console.error(`setup-tools: ${label} did not build:`);
    const shell = args.map((arg) => (arg.includes(' ') ? `'${arg}'` : arg)).join(' ');
    console.error(`  GOBIN=${cacheDir} CGO_ENABLED=0 go ${shell}`);
    if (result.status === 0)
      console.error(`  built, but ${cached} reports ${tool.module} ${built}`);
    // Drop the "go: downloading" progress lines, or they push the actual error out of the tail.
    const output = `${result.stderr ?? ''}\n${result.stdout ?? ''}`.split('\n');
    const errors = output.filter((line) => line.trim() && !line.startsWith('go: downloading'));
    console.error(
      errors
        .slice(-25)
        .map((line) => `  | ${line}`)
        .join('\n'),
    );
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
  const rows = Object.entries(tools).map(([name, tool]) => {
    const installed = installedVersion(tool, join(binDir, name));
    let status = 'not installed';
    if (installed === tool.version) status = `installed (.tools/bin/${name})`;
    else if (installed) status = `wrong version installed (${installed})`;
    return [name, tool.version, tool.package, status];
  });
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
