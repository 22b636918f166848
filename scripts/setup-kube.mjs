#!/usr/bin/env node
// Builds the Kubernetes binaries the k8s/ tests run, without Docker: the control plane
// (kube-apiserver, kube-controller-manager, kube-scheduler, etcd), the node (kubelet,
// kube-proxy) and the cluster add-ons (metrics-server, CoreDNS, KWOK), at the versions pinned
// below, from the Go module proxy only (the approach of controller-runtime's envtest, with
// binaries built here instead of downloaded). The node's container runtime comes from Debian
// packages (containerd, runc, containernetworking-plugins), installed with apt-get when
// missing (`--node`, or when `cluster:up` asks for them).
// Plain Node with no npm dependencies, like scripts/setup-tools.mjs.
//
// Usage: node scripts/setup-kube.mjs          (build what is missing, link into .tools/bin)
//        node scripts/setup-kube.mjs --list   (pinned versions and what is installed)
//        node scripts/setup-kube.mjs --node   (also apt-get the container runtime packages)
//        node scripts/setup-kube.mjs --node-only   (only apt-get them, no Go builds)
//
// `go install module@version` refuses both modules: k8s.io/kubernetes and
// go.etcd.io/etcd/server/v3 point their sibling modules (k8s.io/api, go.etcd.io/etcd/api/v3,
// ...) at folders of their own repository with `replace` directives. So each build gets a
// small generated module that requires the pinned release and replaces every such sibling
// with its published version (k8s.io/* staging modules are tagged v0.<minor>.<patch> for
// Kubernetes v1.<minor>.<patch>; etcd's siblings share etcd's version), then `go build`.
//
// metrics-server, CoreDNS and KWOK have no such replaces: plain `go install module@version`.
//
// Built once per version into ${XDG_CACHE_HOME:-~/.cache}/mscr/kube/<name>@<version>/ and
// then linked into .tools/bin/, so a second run or another clone costs a link. Modules build
// two at a time (on 2 cores one go build leaves a core idle while it downloads, links or
// type-checks one big package); the binaries of one module build one after another, so the
// later ones reuse the first one's compiled packages. A cold build takes many minutes on
// 2 cores (see README).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, posix, relative } from 'node:path';

const KUBERNETES = 'v1.37.2';
const ETCD = 'v3.7.3';
const METRICS_SERVER = 'v0.9.0';
const COREDNS = 'v1.15.0';
const KWOK = 'v0.8.0';

const [, minor, patch] = KUBERNETES.slice(1).split('.');
const kube = (cmd) => ({ module: 'k8s.io/kubernetes', version: KUBERNETES, package: `cmd/${cmd}` });
/**
 * Binaries by the name they get in .tools/bin. `install`: a plain `go install module@version`
 * (no generated module needed).
 */
const BINARIES = {
  etcd: { module: 'go.etcd.io/etcd/server/v3', version: ETCD, package: '' },
  'kube-apiserver': kube('kube-apiserver'),
  'kube-controller-manager': kube('kube-controller-manager'),
  'kube-scheduler': kube('kube-scheduler'),
  kubelet: kube('kubelet'),
  'kube-proxy': kube('kube-proxy'),
  'metrics-server': {
    module: 'sigs.k8s.io/metrics-server',
    version: METRICS_SERVER,
    package: 'cmd/metrics-server',
    install: true,
  },
  coredns: { module: 'github.com/coredns/coredns', version: COREDNS, package: '', install: true },
  kwok: { module: 'sigs.k8s.io/kwok', version: KWOK, package: 'cmd/kwok', install: true },
};
/** Debian packages of the node (container runtime and more): a file each provides, by package. */
const NODE_PACKAGES = {
  containerd: '/usr/bin/containerd',
  runc: '/usr/sbin/runc',
  'containernetworking-plugins': '/usr/lib/cni/bridge',
  // kube-proxy programs Services with iptables; conntrack lets it clear stale UDP entries.
  iptables: '/usr/sbin/iptables',
  conntrack: '/usr/sbin/conntrack',
  // A static busybox: the small test image (httpd, wget, nslookup) of the cluster tests.
  'busybox-static': '/bin/busybox',
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
  'sigs.k8s.io/metrics-server': [
    `sigs.k8s.io/metrics-server/pkg/version.gitVersion=${METRICS_SERVER}`,
  ],
  'github.com/coredns/coredns': [],
  'sigs.k8s.io/kwok': [`sigs.k8s.io/kwok/pkg/consts.Version=${KWOK}`],
};
/** How many modules build at once. */
const PARALLEL = 2;

const root = new URL('..', import.meta.url).pathname;
const binDir = join(root, '.tools', 'bin');
const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mscr', 'kube');

function fail(message) {
  console.error(`setup-kube: ${message}`);
  process.exit(1);
}

const goEnv = (extra = {}) => ({ ...process.env, CGO_ENABLED: '0', GOFLAGS: '', ...extra });

/** Runs go with the caller's GOFLAGS dropped (e.g. -mod=vendor breaks these builds). */
function runGo(args, cwd) {
  const result = spawnSync('go', args, {
    cwd,
    encoding: 'utf8',
    env: goEnv(),
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error?.code === 'ENOENT') fail('`go` is not on PATH; install Go 1.26 or newer.');
  return result;
}

/** The same as runGo, without blocking: builds of other modules run meanwhile. */
function runGoAsync(args, cwd, env = {}) {
  return new Promise((resolve) => {
    const child = spawn('go', args, { cwd, env: goEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (error) => {
      if (error.code === 'ENOENT') fail('`go` is not on PATH; install Go 1.26 or newer.');
      resolve({ status: 1, stdout, stderr: `${stderr}${error.message}` });
    });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function report(result, args, cwd, what) {
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

const goOrFail = (args, cwd, what) => report(runGo(args, cwd), args, cwd, what);
const goOrFailAsync = async (args, cwd, what, env) =>
  report(await runGoAsync(args, cwd, env), args, cwd, what);

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

const seconds = (since) => Math.round((Date.now() - since) / 1000);
const ldflagsOf = (module) =>
  ['-s', '-w', ...VERSION_LDFLAGS[module].map((x) => `-X ${x}`)].join(' ');

/** The generated module's tools.go: every binary of the module, so one go.sum fits them all. */
function toolsGo(module) {
  const packages = Object.values(BINARIES)
    .filter((b) => b.module === module)
    .map((b) => `\t_ "${posix.join(module, b.package)}"`);
  return ['//go:build tools', '', 'package tools', '', 'import (', ...packages, ')', ''].join('\n');
}

/** Builds the binaries `names` of one module and release into their cache folders. */
async function build(module, version, names) {
  const work = join(cacheRoot, `build-${module.replaceAll('/', '_')}@${version}`);
  mkdirSync(work, { recursive: true });
  const tools = join(work, 'tools.go');
  // Tidy again when a binary was added to the module since go.sum was made.
  const current = existsSync(tools) && readFileSync(tools, 'utf8') === toolsGo(module);
  if (!current || !existsSync(join(work, 'go.sum'))) {
    writeFileSync(join(work, 'go.mod'), generatedGoMod(module, version));
    writeFileSync(tools, toolsGo(module));
    if ((await goOrFailAsync(['mod', 'tidy'], work, 'go mod tidy')) === null) {
      rmSync(join(work, 'go.sum'), { force: true });
      return false;
    }
  }
  for (const name of names) {
    const started = Date.now();
    const out = cachedPath(name);
    mkdirSync(join(out, '..'), { recursive: true });
    const pkg = posix.join(module, BINARIES[name].package);
    const args = ['build', '-trimpath', `-ldflags=${ldflagsOf(module)}`, '-o', out, pkg];
    if ((await goOrFailAsync(args, work, `go build ${pkg}`)) === null) return false;
    console.log(`${name} ${version}: built in ${seconds(started)} s`);
  }
  return true;
}

/** `go install module/package@version` into the binary's cache folder. */
async function install(name) {
  const { module, version, package: pkg } = BINARIES[name];
  const started = Date.now();
  const dir = join(cacheRoot, `${name}@${version}`);
  const gobin = join(dir, 'gobin');
  mkdirSync(gobin, { recursive: true });
  const target = `${posix.join(module, pkg)}@${version}`;
  const args = ['install', '-trimpath', `-ldflags=${ldflagsOf(module)}`, target];
  if ((await goOrFailAsync(args, root, `go install ${target}`, { GOBIN: gobin })) === null) {
    return false;
  }
  renameSync(join(gobin, posix.basename(posix.join(module, pkg))), cachedPath(name));
  rmSync(gobin, { recursive: true, force: true });
  console.log(`${name} ${version}: built in ${seconds(started)} s`);
  return true;
}

function installed(name) {
  const { module, version } = BINARIES[name];
  return builtVersion(join(binDir, name), module) === version;
}

/** Runs the jobs, at most `limit` at once. */
async function pool(jobs, limit) {
  const queue = [...jobs];
  const worker = async () => {
    while (queue.length > 0) await queue.shift()();
  };
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
}

/** apt-get installs the container runtime packages that are missing (root only). */
function installNodePackages() {
  const missing = Object.entries(NODE_PACKAGES)
    .filter(([, path]) => !existsSync(path))
    .map(([name]) => name);
  if (missing.length === 0) {
    console.log(`${Object.keys(NODE_PACKAGES).join(', ')}: already installed`);
    return;
  }
  if (process.getuid?.() !== 0) {
    fail(`${missing.join(', ')} missing: run as root, or \`apt-get install ${missing.join(' ')}\``);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...missing]]) {
    console.log(`apt-get ${args.join(' ')}`);
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (result.status !== 0) fail(`apt-get ${args[0]} failed (exit ${result.status})`);
  }
  // Debian's containerd package starts the system's containerd; the cluster runs its own, with
  // its own state folders, and leaves the system's alone (stopped, as the package came).
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log('usage: node scripts/setup-kube.mjs [--list] [--node | --node-only]');
  process.exit(0);
}
mkdirSync(binDir, { recursive: true });
if (args.includes('--list')) {
  for (const [name, { module, version }] of Object.entries(BINARIES)) {
    const state = installed(name) ? `installed (.tools/bin/${name})` : 'not installed';
    console.log(`${name.padEnd(24)} ${version.padEnd(8)} ${module.padEnd(26)} ${state}`);
  }
  for (const [name, path] of Object.entries(NODE_PACKAGES)) {
    const state = existsSync(path) ? `installed (${path})` : 'not installed';
    console.log(`${name.padEnd(24)} ${'apt'.padEnd(8)} ${'debian'.padEnd(26)} ${state}`);
  }
  process.exit(0);
}
if (args.includes('--node') || args.includes('--node-only')) installNodePackages();
// --node-only: the apt-get part alone (scripts/setup.mjs runs apt steps one at a time).
if (args.includes('--node-only')) process.exit(0);

const started = Date.now();
// Group the missing binaries by module, so the Kubernetes binaries share one module setup.
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
const jobs = [...missing].map(([module, names]) => async () => {
  const { version } = BINARIES[names[0]];
  console.log(`${names.join(', ')} ${version}: building from ${module} ...`);
  const ok = BINARIES[names[0]].install
    ? await install(names[0])
    : await build(module, version, names);
  for (const name of names) {
    if (ok && builtVersion(cachedPath(name), module) === BINARIES[name].version) {
      link(cachedPath(name), join(binDir, name));
    } else failed.push(name);
  }
});
// Biggest first, so the long Kubernetes build is not left to run alone at the end.
await pool(jobs, PARALLEL);
if (failed.length > 0) fail(`failed to build ${failed.join(', ')} (see above)`);
if (missing.size > 0) console.log(`setup-kube: done in ${seconds(started)} s`);
