// The host side of scripts/build-images.mjs: Debian tools installed with apt-get, the apt
// mirror, child processes with their output in a log, content hashes, the host CA bundle for
// builds behind a TLS-intercepting proxy, and a lock so one build runs per cache.
// Plain Node with no npm dependencies.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readdirSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { Buffer } from 'node:buffer';
import { join } from 'node:path';

// command -> the Debian package that provides it.
const APT_TOOLS = {
  buildah: 'buildah',
  mmdebstrap: 'mmdebstrap',
  umoci: 'umoci',
  skopeo: 'skopeo',
  runc: 'runc',
  ctr: 'containerd',
};

export function fail(message) {
  console.error(`build-images: ${message}`);
  process.exit(1);
}

/** SHA-256 of strings and buffers, a NUL after each as a separator. */
export function sha256(...parts) {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
}

export function fileHash(path) {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const buffer = Buffer.alloc(1 << 20);
  try {
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0;)
      hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export function ensureAptTools() {
  const missing = Object.entries(APT_TOOLS).filter(([command]) => !has(command));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map(([, pkg]) => pkg))];
  if (process.getuid?.() !== 0)
    fail(
      `missing ${packages.join(', ')}: run as root or \`sudo apt-get install ${packages.join(' ')}\``,
    );
  console.log(`apt-get install ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  for (const args of [
    ['update', '-q', ...lock],
    ['install', '-y', '-q', '--no-install-recommends', ...lock, ...packages],
  ]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (result.status !== 0) fail(`apt-get ${args[0]} failed (exit ${result.status})`);
  }
}

/** The Debian mirror apt already uses here (so the bases come from a reachable one). */
export function debianMirror() {
  if (process.env.MSCR_DEBIAN_MIRROR) return process.env.MSCR_DEBIAN_MIRROR;
  const texts = [];
  for (const dir of ['/etc/apt/sources.list.d']) {
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((f) => /\.(sources|list)$/.test(f)))
      texts.push(readFileSync(join(dir, file), 'utf8'));
  }
  if (existsSync('/etc/apt/sources.list'))
    texts.push(readFileSync('/etc/apt/sources.list', 'utf8'));
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const match = /^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)/.exec(line.trim());
      const uri = match?.[1]?.replace(/\/$/, '');
      if (uri && /\/debian$/.test(uri)) return uri;
    }
  }
  return 'http://deb.debian.org/debian';
}

/** Runs a command, its output appended to a log file; rejects with the log's tail. */
export function run(command, args, { log, cwd, env } = {}) {
  return new Promise((resolve, reject) => {
    const out = log ? openSync(log, 'a') : 'ignore';
    if (log) writeFileSync(log, `\n$ ${command} ${args.join(' ')}\n`, { flag: 'a' });
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', out],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (log) writeFileSync(log, chunk, { flag: 'a' });
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (typeof out === 'number') closeSync(out);
      if (code === 0) return resolve(stdout.trim());
      const tail = log ? readFileSync(log, 'utf8').split('\n').slice(-30).join('\n') : '';
      reject(new Error(`${command} ${args.slice(0, 3).join(' ')} ... exited ${code}\n${tail}`));
    });
  });
}

/**
 * The host's CA bundle, mounted read-only over the image's during RUN steps (buildah's -v;
 * nothing of it is committed): where outgoing TLS is intercepted by a proxy with its own CA,
 * as here, `npm ci` inside the build trusts the registry exactly as the host does. Debian's
 * node reads the system bundle. MSCR_BUILD_CA_BUNDLE picks another file; empty turns it off.
 */
export function caBundleVolume() {
  const bundle = process.env.MSCR_BUILD_CA_BUNDLE ?? '/etc/ssl/certs/ca-certificates.crt';
  if (!bundle || !existsSync(bundle)) return [];
  return ['--volume', `${bundle}:/etc/ssl/certs/ca-certificates.crt:ro`];
}

/** One run at a time per lock file: a second one waits for the first instead of racing it. */
export function takeLock(lock) {
  const deadline = Date.now() + 60 * 60 * 1000;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(lock, 'utf8'));
      } catch {
        continue; // released meanwhile
      }
      let alive = false;
      try {
        // pid 0 would signal our own group: a half-written lock counts as stale.
        if (Number.isInteger(holder) && holder > 0 && holder !== process.pid) {
          process.kill(holder, 0);
          alive = true;
        }
      } catch {
        alive = false;
      }
      if (!alive) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) fail(`another build (pid ${holder}) holds ${lock}`);
      spawnSync('sleep', ['2']);
    }
  }
  const release = () => rmSync(lock, { force: true });
  process.on('SIGINT', () => {
    release();
    process.exit(130);
  });
  process.on('SIGTERM', () => {
    release();
    process.exit(143);
  });
  return release;
}
