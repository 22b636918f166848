#!/usr/bin/env node
// Builds the Kubernetes control plane the k8s/ tests run against, without Docker:
// kube-apiserver and kube-controller-manager from the Kubernetes Go modules, and etcd, at the
// versions pinned below, from the Go module proxy only (the approach of controller-runtime's
// envtest, with binaries built here instead of downloaded).
// Plain Node with no npm dependencies, like scripts/setup-tools.mjs.
//
// Usage: node scripts/setup-kube.mjs          (build what is missing, link into .tools/bin)
//        node scripts/setup-kube.mjs --list   (pinned versions and what is installed)
//
// `go install module@version` refuses both modules: k8s.io/kubernetes and
// go.etcd.io/etcd/server/v3 point their sibling modules (k8s.io/api, go.etcd.io/etcd/api/v3,
// ...) at folders of their own repository with `replace` directives. So each build gets a
// small generated module that requires the pinned release and replaces every such sibling
// with its published version (k8s.io/* staging modules are tagged v0.<minor>.<patch> for
// Kubernetes v1.<minor>.<patch>; etcd's siblings share etcd's version), then `go build`.
//
// Built once per version into ${XDG_CACHE_HOME:-~/.cache}/mscr/kube/<name>@<version>/ and
// then linked into .tools/bin/, so a second run or another clone costs a link. A cold build
// of both Kubernetes binaries takes many minutes on 2 cores (see README).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, posix, relative } from 'node:path';

const KUBERNETES = 'v1.37.2';
const ETCD = 'v3.7.3';

const [, minor, patch] = KUBERNETES.slice(1).split('.');
/** Binaries by the name they get in .tools/bin. */
const BINARIES = {
  etcd: { module: 'go.etcd.io/etcd/server/v3', version: ETCD, package: '' },
  'kube-apiserver': {
    module: 'k8s.io/kubernetes',
    version: KUBERNETES,
    package: 'cmd/kube-apiserver',
  },
  'kube-controller-manager': {
    module: 'k8s.io/kubernetes',
    version: KUBERNETES,
    package: 'cmd/kube-controller-manager',
  },
};
/** Version of a module that the pinned release replaces with a folder of its own repository. */
const SIBLING_VERSION = {
  'k8s.io/kubernetes': () => `v0.${minor}.${patch}`,
  'go.etcd.io/etcd/server/v3': () => ETCD,
};
/** -X flags, as the projects' release builds set them, so `--version` names the release. */
const VERSION_LDFLAGS = {
  'k8s.io/kubernetes': [
    `k8s.io/component-base/version.gitVersion=${KUBERNETES}`,
    'k8s.io/component-base/version.gitMajor=1',
    `k8s.io/component-base/version.gitMinor=${minor}`,
    'k8s.io/component-base/version.gitTreeState=clean',
    `k8s.io/client-go/pkg/version.gitVersion=${KUBERNETES}`,
  ],
  'go.etcd.io/etcd/server/v3': [],
};

const root = new URL('..', import.meta.url).pathname;
const binDir = join(root, '.tools', 'bin');
const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mscr', 'kube');

function fail(message) {
  console.error(`setup-kube: ${message}`);
  process.exit(1);
}

/** Runs go with the caller's GOFLAGS dropped (e.g. -mod=vendor breaks these builds). */
function runGo(args, cwd) {
  const result = spawnSync('go', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error?.code === 'ENOENT') fail('`go` is not on PATH; install Go 1.26 or newer.');
  return result;
}

function goOrFail(args, cwd, what) {
  const result = runGo(args, cwd);
  if (result.status === 0) return result.stdout;
  const lines = `${result.stderr}\n${result.stdout}`.split('\n');
  const errors = lines.filter((line) => line.trim() && !line.startsWith('go: downloading'));
  console.error(`setup-kube: ${what} failed: (cd ${cwd} && go ${args.join(' ')})`);
  console.error(
    errors
      .slice(-25)
      .map((line) => `  | ${line}`)
      .join('\n'),
  );
  return null;
}

/** The version of `module` a Go binary was built with (as main module or dependency). */
function builtVersion(binary, module) {
  if (!existsSync(binary)) return null;
  const result = runGo(['version', '-m', binary], root);
  if (result.status !== 0) return null;
  for (const line of result.stdout.split('\n')) {
    const [kind, path, version] = line.trim().split('\t');
    if ((kind === 'mod' || kind === 'dep') && path === module) return version ?? null;
  }
  return null;
}

function cachedPath(name) {
  const { version } = BINARIES[name];
  return join(cacheRoot, `${name}@${version}`, name);
}

// Remove first: .tools/bin/<name> may be a hard link into the cache of another version.
function link(from, to) {
  rmSync(to, { force: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to); // cache on another filesystem
  }
}

/** The generated go.mod: the pinned release plus a replace for each in-repository sibling. */
function generatedGoMod(module, version) {
  const info = JSON.parse(goOrFail(['mod', 'download', '-json', `${module}@${version}`], root));
  const upstream = readFileSync(info.GoMod, 'utf8');
  const siblings = [...upstream.matchAll(/^\s*(\S+)\s+=>\s+\.\.?\/\S*\s*$/gm)].map((m) => m[1]);
  const goLine = /^go\s+(\S+)/m.exec(upstream)?.[1] ?? '1.26';
  const replaces = siblings.map((s) => `\t${s} => ${s} ${SIBLING_VERSION[module]()}`);
  return [
    `// Generated by scripts/setup-kube.mjs to build ${module}@${version}.`,
    'module mscr.local/kube-build',
    '',
    `go ${goLine}`,
    '',
    `require ${module} ${version}`,
    '',
    'replace (',
    ...replaces,
    ')',
    '',
  ].join('\n');
}

/** Builds every binary of one module and release into its cache folder; true on success. */
function build(module, version, names) {
  const work = join(cacheRoot, `build-${module.replaceAll('/', '_')}@${version}`);
  mkdirSync(work, { recursive: true });
  const started = Date.now();
  process.stdout.write(`${names.join(', ')} ${version}: building from ${module} ... `);
  const gomod = join(work, 'go.mod');
  if (!existsSync(join(work, 'go.sum'))) {
    writeFileSync(gomod, generatedGoMod(module, version));
    const imports = names.map((n) => `\t_ "${posix.join(module, BINARIES[n].package)}"`);
    const tools = ['//go:build tools', '', 'package tools', '', 'import (', ...imports, ')', ''];
    writeFileSync(join(work, 'tools.go'), tools.join('\n'));
    if (goOrFail(['mod', 'tidy'], work, 'go mod tidy') === null) {
      rmSync(join(work, 'go.sum'), { force: true });
      return false;
    }
  }
  const ldflags = ['-s', '-w', ...VERSION_LDFLAGS[module].map((x) => `-X ${x}`)].join(' ');
  for (const name of names) {
    const out = cachedPath(name);
    mkdirSync(join(out, '..'), { recursive: true });
    const pkg = posix.join(module, BINARIES[name].package);
    const args = ['build', '-trimpath', `-ldflags=${ldflags}`, '-o', out, pkg];
    if (goOrFail(args, work, `go build ${pkg}`) === null) return false;
  }
  console.log(`done in ${Math.round((Date.now() - started) / 1000)} s`);
  return true;
}

function installed(name) {
  const { module, version } = BINARIES[name];
  return builtVersion(join(binDir, name), module) === version;
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log('usage: node scripts/setup-kube.mjs [--list]');
  process.exit(0);
}
mkdirSync(binDir, { recursive: true });
if (args.includes('--list')) {
  for (const [name, { module, version }] of Object.entries(BINARIES)) {
    const state = installed(name) ? `installed (.tools/bin/${name})` : 'not installed';
    console.log(`${name.padEnd(24)} ${version.padEnd(8)} ${module.padEnd(26)} ${state}`);
  }
  process.exit(0);
}

const started = Date.now();
// Group the missing binaries by module, so both Kubernetes binaries share one module setup.
const missing = new Map();
for (const [name, { module, version }] of Object.entries(BINARIES)) {
  const target = join(binDir, name);
  const shown = relative(process.cwd(), target) || target;
  if (installed(name)) {
    console.log(`${name} ${version}: already installed (${shown})`);
  } else if (builtVersion(cachedPath(name), module) === version) {
    link(cachedPath(name), target);
    console.log(`${name} ${version}: linked from cache ${cachedPath(name)} (${shown})`);
  } else {
    missing.set(module, [...(missing.get(module) ?? []), name]);
  }
}
const failed = [];
for (const [module, names] of missing) {
  const ok = build(module, BINARIES[names[0]].version, names);
  for (const name of names) {
    if (ok && builtVersion(cachedPath(name), module) === BINARIES[name].version) {
      link(cachedPath(name), join(binDir, name));
    } else failed.push(name);
  }
}
if (failed.length > 0) fail(`failed to build ${failed.join(', ')} (see above)`);
if (missing.size > 0)
  console.log(`setup-kube: done in ${Math.round((Date.now() - started) / 1000)} s`);
