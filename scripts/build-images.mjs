#!/usr/bin/env node
// Builds the container images without a Docker engine or a registry, with buildah (chroot
// isolation, vfs storage under the cache folder) from Debian packages, and writes each one as
// an archive that `ctr -n k8s.io images import` (containerd) loads:
//
//   base        Debian trixie (nodejs 20.19, ca-certificates, passwd) made with mmdebstrap
//   build-base  base + npm, for the Dockerfile's build and deps stages
//   mscr        the project's own Dockerfile, given those two as BUILD_IMAGE and BASE_IMAGE
//   minio, k6   docker/{minio,k6}.Dockerfile around the binaries scripts/setup-tools.mjs builds
//
// Plain Node with no npm dependencies, like scripts/setup-tools.mjs. Missing Debian tools
// (buildah, mmdebstrap, umoci, skopeo, runc, containerd) are installed with apt-get.
//
// Usage: node scripts/build-images.mjs [--rebuild] [name...]   (no names = mscr, minio, k6)
//        node scripts/build-images.mjs --list-context      (the files the mscr key covers)
//        node scripts/build-images.mjs --keys              (each image's cache key, no build)
//
// Everything lives in ${XDG_CACHE_HOME:-~/.cache}/mscr/: buildah's storage in buildah/, the
// archives and index.json (name -> ref, archive, size, build time, cache key) in images/.
// An image is rebuilt only when its cache key changes: the hash of its Dockerfile, the files
// its .dockerignore keeps (tracked and untracked, as they are on disk), its build arguments
// and its base's key. The Debian bases are keyed by their recipe (suite, mirror, packages),
// not by the mirror's state: `--rebuild` makes them again with today's packages.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  caBundleVolume,
  debianMirror,
  ensureAptTools,
  fail,
  fileHash,
  run,
  sha256,
  takeLock,
} from './build-images-host.mjs';
import { keptPaths } from './dockerignore.mjs';

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mscr');
const imagesDir = join(cache, 'images');
const logsDir = join(imagesDir, 'logs');
const storage = join(cache, 'buildah');
const tools = JSON.parse(readFileSync(join(root, 'scripts', 'tools.json'), 'utf8'));

const SUITE = 'trixie';
// The recipe version: bump it when a change here alters what an image contains.
const RECIPE = 1;
// Leave documentation and translations out of the bases (keeping the licences).
const DPKG_EXCLUDES = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
];

const STORAGE_ARGS = [
  '--root',
  join(storage, 'storage'),
  '--runroot',
  join(storage, 'run'),
  '--storage-driver',
  'vfs',
];
const buildah = (args, options) => run('buildah', [...STORAGE_ARGS, ...args], options);

/** The cache key label of an image in buildah's storage, or null when it is not there. */
async function storedKey(ref) {
  let out;
  try {
    out = await buildah(['inspect', '--type', 'image', ref]);
  } catch {
    return null; // not in storage
  }
  const info = JSON.parse(out);
  return info.Docker?.config?.Labels?.['io.mscr.cache-key'] ?? null;
}

/** The files of the build context that the .dockerignore keeps, as they are on disk. */
function contextFiles(ignoreFile) {
  const listed = spawnSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (listed.status !== 0) fail(`git ls-files failed: ${listed.stderr}`);
  const paths = listed.stdout.split('\0').filter((p) => p && existsSync(join(root, p)));
  return keptPaths(ignoreFile, paths).sort();
}

// The images: what each needs, how its key is made and how it is built.
const mirror = debianMirror();
const BASES = {
  base: {
    ref: `localhost/mscr-base:${SUITE}`,
    packages: ['nodejs', 'ca-certificates', 'passwd'],
  },
  'build-base': {
    ref: `localhost/mscr-build-base:${SUITE}`,
    packages: ['nodejs', 'npm', 'ca-certificates', 'passwd'],
  },
};

function baseKey(name) {
  const { packages } = BASES[name];
  return sha256(JSON.stringify({ RECIPE, SUITE, mirror, packages, DPKG_EXCLUDES }));
}

async function buildBase(name, log) {
  const { ref, packages } = BASES[name];
  const key = baseKey(name);
  if ((await storedKey(ref)) === key) return { ref, key, cached: true };
  const work = mkdtempSync(join(cache, `mmdebstrap-${name}-`));
  try {
    const tarball = join(work, 'rootfs.tar');
    await run(
      'mmdebstrap',
      [
        '--variant=minbase',
        `--include=${packages.join(',')}`,
        '--format=tar',
        ...DPKG_EXCLUDES.map((option) => `--dpkgopt=${option}`),
        '--aptopt=Acquire::Retries "3"',
        SUITE,
        tarball,
        mirror,
      ],
      { log },
    );
    const container = await buildah(['from', 'scratch'], { log });
    try {
      const mount = await buildah(['mount', container], { log });
      await run('tar', ['-xf', tarball, '-C', mount, '--numeric-owner'], { log });
      await buildah(['umount', container], { log });
      await buildah(
        [
          'config',
          '--env',
          'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          '--env',
          'LANG=C.UTF-8',
          '--cmd',
          '["node"]',
          '--label',
          `io.mscr.cache-key=${key}`,
          '--label',
          `org.opencontainers.image.description=Debian ${SUITE} with ${packages.join(', ')} (mmdebstrap)`,
          container,
        ],
        { log },
      );
      await buildah(['commit', '--format', 'docker', '--rm', container, ref], { log });
    } catch (error) {
      await buildah(['rm', container]).catch(() => {});
      throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { ref, key, cached: false };
}

function toolBinary(name) {
  const binary = join(root, '.tools', 'bin', name);
  if (!existsSync(binary)) {
    console.log(`${name}: .tools/bin/${name} is missing, running scripts/setup-tools.mjs ${name}`);
    const result = spawnSync(process.execPath, [join(root, 'scripts', 'setup-tools.mjs'), name], {
      stdio: 'inherit',
    });
    if (result.status !== 0 || !existsSync(binary)) fail(`could not build ${name}`);
  }
  return binary;
}

const IMAGES = {
  mscr: {
    ref: 'localhost/mscr:dev',
    bases: ['base', 'build-base'],
    dockerfile: 'Dockerfile',
    key() {
      const ignore = join(root, 'Dockerfile.dockerignore');
      const files = contextFiles(ignore);
      const contents = files.map((file) => `${file}\n${fileHash(join(root, file))}`);
      return sha256(
        readFileSync(join(root, 'Dockerfile')),
        readFileSync(ignore),
        ...contents,
        JSON.stringify(this.buildArgs()),
        baseKey('base'),
        baseKey('build-base'),
      );
    },
    buildArgs() {
      return {
        BUILD_IMAGE: BASES['build-base'].ref,
        BASE_IMAGE: BASES.base.ref,
        // tfjs-node's install script downloads libtensorflow from storage.googleapis.com,
        // which cannot be reached here: the image falls back to the pure-JS/WASM backends.
        TFJS_NODE: process.env.MSCR_TFJS_NODE || 'optional',
      };
    },
    context: () => ({ dir: root, ignorefile: join(root, 'Dockerfile.dockerignore') }),
  },
  ...Object.fromEntries(
    ['minio', 'k6'].map((name) => [
      name,
      {
        ref: `localhost/${name}:${tools[name].version}`,
        bases: ['base'],
        dockerfile: `docker/${name}.Dockerfile`,
        key() {
          return sha256(
            readFileSync(join(root, this.dockerfile)),
            fileHash(toolBinary(name)),
            JSON.stringify(this.buildArgs()),
            baseKey('base'),
          );
        },
        buildArgs: () => ({ BASE_IMAGE: BASES.base.ref }),
        context() {
          // A folder holding just the binary (hard-linked), so nothing else is sent.
          const dir = mkdtempSync(join(cache, `context-${name}-`));
          try {
            linkSync(toolBinary(name), join(dir, name));
          } catch {
            writeFileSync(join(dir, name), readFileSync(toolBinary(name)));
          }
          return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
        },
      },
    ]),
  ),
};

const indexFile = join(imagesDir, 'index.json');
function readIndex() {
  try {
    return JSON.parse(readFileSync(indexFile, 'utf8'));
  } catch {
    return {};
  }
}
function writeIndex(index) {
  const tmp = `${indexFile}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(index, null, 2)}\n`);
  renameSync(tmp, indexFile);
}

async function buildImage(name, key, log) {
  const image = IMAGES[name];
  const context = image.context();
  try {
    const args = [
      'build',
      '--isolation',
      'chroot',
      '--format',
      'docker',
      '--pull=never',
      '--layers=false',
      '-f',
      join(root, image.dockerfile),
      ...(context.ignorefile ? ['--ignorefile', context.ignorefile] : []),
      ...caBundleVolume(),
      ...Object.entries(image.buildArgs()).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      '--label',
      `io.mscr.cache-key=${key}`,
      '-t',
      image.ref,
      context.dir,
    ];
    await buildah(args, { log });
  } finally {
    context.cleanup?.();
  }
  // A docker-archive (docker save format): ctr imports it under the ref in its manifest.
  const archive = join(imagesDir, `${name}.tar`);
  const tmp = `${archive}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  await buildah(['push', '--quiet', image.ref, `docker-archive:${tmp}:${image.ref}`], { log });
  renameSync(tmp, archive);
  const info = JSON.parse(await buildah(['inspect', '--type', 'image', image.ref]));
  return { archive, imageId: info.FromImageID ?? null };
}

async function main() {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log('usage: node scripts/build-images.mjs [--rebuild] [name...]');
    console.log(
      `images: ${Object.keys(IMAGES).join(', ')}; archives and index.json in ${imagesDir}`,
    );
    return;
  }
  if (args.includes('--list-context')) {
    // The files the mscr image's cache key covers (the tests compare them with what buildah sends).
    console.log(JSON.stringify(contextFiles(join(root, 'Dockerfile.dockerignore'))));
    return;
  }
  if (args.includes('--keys')) {
    // Each image's cache key as a build now would compute it, without building.
    console.log(
      JSON.stringify(Object.fromEntries(Object.entries(IMAGES).map(([n, i]) => [n, i.key()]))),
    );
    return;
  }
  const rebuild = args.includes('--rebuild');
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !Object.hasOwn(IMAGES, n));
  if (unknown.length > 0)
    fail(`unknown image ${unknown.join(', ')}; known: ${Object.keys(IMAGES).join(', ')}`);
  const wanted = names.length > 0 ? names : Object.keys(IMAGES);

  ensureAptTools();
  mkdirSync(logsDir, { recursive: true });
  mkdirSync(storage, { recursive: true });
  const release = takeLock(join(imagesDir, '.lock'));
  try {
    await buildAll(wanted, rebuild);
  } finally {
    release();
  }
}

async function buildAll(wanted, rebuild) {
  // Working containers and folders left by a killed run (the lock says no other run is using them).
  await buildah(['rm', '--all']).catch(() => {});
  for (const entry of readdirSync(cache)) {
    if (/^(mmdebstrap|context)-/.test(entry))
      rmSync(join(cache, entry), { recursive: true, force: true });
  }
  if (rebuild) {
    for (const base of Object.values(BASES))
      await buildah(['rmi', '--force', base.ref]).catch(() => {});
  }
  const index = readIndex();
  const started = Date.now();
  const basePromises = {};
  const ensureBase = (name) =>
    (basePromises[name] ??= (async () => {
      const t0 = Date.now();
      const log = join(logsDir, `${name}.log`);
      writeFileSync(log, '');
      const result = await buildBase(name, log);
      const seconds = (Date.now() - t0) / 1000;
      console.log(
        `${name}: ${result.cached ? 'cached' : `built in ${seconds.toFixed(1)} s`} (${result.ref})`,
      );
      return result;
    })());

  const failures = [];
  await Promise.all(
    wanted.map(async (name) => {
      const image = IMAGES[name];
      try {
        const key = image.key();
        const entry = index[name];
        if (!rebuild && entry?.key === key && existsSync(entry.archive)) {
          console.log(`${name}: cached (${entry.ref}, ${entry.archive})`);
          return;
        }
        await Promise.all(image.bases.map(ensureBase));
        const t0 = Date.now();
        const log = join(logsDir, `${name}.log`);
        writeFileSync(log, '');
        console.log(`${name}: building ${image.ref} (log: ${log})`);
        const { archive, imageId } = await buildImage(name, key, log);
        const seconds = Math.round((Date.now() - t0) / 100) / 10;
        index[name] = {
          ref: image.ref,
          archive,
          format: 'docker-archive',
          size: statSync(archive).size, // uncompressed layers: about the unpacked size
          imageId,
          built: new Date().toISOString(),
          buildSeconds: seconds,
          key,
        };
        writeIndex(index);
        const mb = (index[name].size / 1e6).toFixed(0);
        console.log(`${name}: built in ${seconds} s, ${mb} MB (${archive})`);
      } catch (error) {
        failures.push(name);
        console.error(`${name}: FAILED\n${error instanceof Error ? error.message : error}`);
      }
    }),
  );
  // Images that lost their tag to a rebuild take gigabytes in vfs storage.
  await buildah(['rmi', '--prune']).catch(() => {});
  writeIndex(index);
  console.log(`index: ${indexFile} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  if (failures.length > 0) fail(`failed: ${failures.join(', ')} (logs in ${logsDir})`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await main();
}
