/**
 * The images scripts/build-images.mjs builds with buildah (no Docker engine, no registry):
 * the cache index, the image configuration, the mscr image's filesystem, the image run with
 * runc from an unpacked bundle (serving a model on loopback, the healthcheck, SIGTERM), the
 * MinIO and k6 images run the same way, and `ctr images import` of every archive into a
 * private containerd (the cluster imports them into its own).
 *
 * The first run builds everything (about 15 minutes on 2 busy cores); later runs find the
 * images cached by content and take seconds to check, plus the runs. Needs root (buildah
 * chroot, runc) and the Debian tools the script installs; with CI set, a missing
 * prerequisite fails instead of skipping.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { openStore } from '../connectors/store/index.ts';
import { freePort } from '../tests/loopback.ts';
import { publishToyClassifier, toyInfer } from '../service/test-support.ts';
import { configure, mustRun, run, start, unpackArchive, type Container } from './runc-bundle.ts';

const root = new URL('..', import.meta.url).pathname;
const script = join(root, 'scripts', 'build-images.mjs');
const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mscr');
const indexFile = join(cache, 'images', 'index.json');
const buildahStorage = [
  '--root',
  join(cache, 'buildah', 'storage'),
  '--runroot',
  join(cache, 'buildah', 'run'),
  '--storage-driver',
  'vfs',
];
const tools = JSON.parse(readFileSync(join(root, 'scripts', 'tools.json'), 'utf8')) as Record<
  string,
  { version: string }
>;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const slow = { timeout: 60 * 60_000 };

interface Entry {
  ref: string;
  archive: string;
  format: string;
  size: number;
  built: string;
  buildSeconds: number;
  key: string;
}
interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: { Test?: string[] };
}

const COMMANDS = ['buildah', 'mmdebstrap', 'umoci', 'skopeo', 'runc', 'containerd', 'ctr'];
const missing = COMMANDS.filter(
  (c) => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status !== 0,
);
let prerequisite: string | undefined;
if (process.getuid?.() !== 0) prerequisite = 'needs root (buildah chroot isolation, runc)';
else if (missing.length > 0)
  prerequisite = `${missing.join(', ')} missing: \`node scripts/build-images.mjs\` installs them with apt-get`;
if (prerequisite && process.env.CI) {
  test('the image tools are available', () => {
    assert.fail(`CI is set, so this cannot be skipped: ${prerequisite}`);
  });
}
const skip = prerequisite && !process.env.CI ? prerequisite : false;

function buildImages(...args: string[]) {
  const result = spawnSync(process.execPath, [script, ...args], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The image configuration (docker format) stored in a docker-archive. */
function archiveConfig(archive: string): { config: ImageConfig; repoTags: string[] } {
  const manifest = JSON.parse(mustRun('tar', ['-xOf', archive, 'manifest.json'])) as {
    Config: string;
    RepoTags: string[];
  }[];
  assert.equal(manifest.length, 1);
  const image = JSON.parse(mustRun('tar', ['-xOf', archive, manifest[0]!.Config])) as {
    config: ImageConfig;
  };
  return { config: image.config, repoTags: manifest[0]!.RepoTags };
}

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path, base) : [relative(base, path)];
  });
}

async function waitFor(url: string, container: Container, deadline: number): Promise<Response> {
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.ok) return response;
    } catch {
      // not listening yet
    }
    assert.ok(Date.now() < deadline, `${url} never answered 200:\n${container.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Containers and folders of an earlier run of this file that was killed. */
function removeStaleRuns() {
  for (const entry of readdirSync(cache)) {
    const pid = /^image-test-(\d+)-/.exec(entry)?.[1];
    if (!pid) continue;
    try {
      process.kill(Number(pid), 0);
      continue; // still running
    } catch {
      // gone: clean up after it
    }
    const state = join(cache, entry, 'runc');
    if (existsSync(state)) {
      const listed = run('runc', ['--root', state, 'list', '-q']);
      for (const id of listed.stdout.split('\n').filter(Boolean))
        run('runc', ['--root', state, 'delete', '--force', id]);
    }
    // Its private containerd, if it was killed during the import test.
    for (const sub of readdirSync(join(cache, entry)).filter((d) => d.startsWith('containerd-'))) {
      const dir = join(cache, entry, sub);
      const pidFile = join(dir, 'containerd.pid');
      if (!existsSync(pidFile)) continue;
      const daemonPid = Number(readFileSync(pidFile, 'utf8'));
      const cmdline = run('cat', [`/proc/${daemonPid}/cmdline`]).stdout;
      if (cmdline.includes(dir)) process.kill(daemonPid, 'SIGKILL');
    }
    rmSync(join(cache, entry), { recursive: true, force: true });
  }
}

describe('images built with buildah', { skip }, () => {
  let index: Record<string, Entry>;
  let work: string;
  const runcState = () => join(work, 'runc');

  before(() => {
    removeStaleRuns();
    work = mkdtempSync(join(cache, `image-test-${process.pid}-`));
    const built = buildImages();
    assert.equal(built.status, 0, built.output);
    index = JSON.parse(readFileSync(indexFile, 'utf8')) as Record<string, Entry>;
  }, slow);
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('index.json names each archive with its ref, size, build time and cache key; a rerun is all cached', () => {
    assert.deepEqual(Object.keys(index).sort(), ['k6', 'minio', 'mscr']);
    const refs = {
      mscr: 'localhost/mscr:dev',
      minio: `localhost/minio:${tools.minio!.version}`,
      k6: `localhost/k6:${tools.k6!.version}`,
    };
    for (const [name, entry] of Object.entries(index)) {
      assert.equal(entry.ref, refs[name as keyof typeof refs]);
      assert.equal(entry.format, 'docker-archive');
      assert.equal(entry.size, statSync(entry.archive).size);
      assert.match(entry.key, /^[0-9a-f]{64}$/);
      assert.ok(!Number.isNaN(Date.parse(entry.built)) && entry.buildSeconds > 0);
      assert.deepEqual(archiveConfig(entry.archive).repoTags, [entry.ref]);
      assert.equal(archiveConfig(entry.archive).config.Labels?.['io.mscr.cache-key'], entry.key);
    }
    const again = buildImages();
    assert.equal(again.status, 0, again.output);
    for (const name of Object.keys(index))
      assert.match(again.output, new RegExp(`^${name}: cached`, 'm'));
    assert.deepEqual(JSON.parse(readFileSync(indexFile, 'utf8')), index, 'nothing rebuilt');
  });

  test('the mscr key changes with a file the context keeps, not with one it leaves out', () => {
    const keys = () => {
      const result = buildImages('--keys');
      assert.equal(result.status, 0, result.output);
      return JSON.parse(result.output) as Record<string, string>;
    };
    const before = keys();
    assert.equal(before.mscr, index.mscr!.key, 'the index holds the current key');
    // Files no test runner or compiler picks up: a text file in a kept folder, and two that
    // the .dockerignore leaves out (top level, testdata).
    const kept = join(root, 'service', `zz-key-probe-${process.pid}.txt`);
    const left = [
      join(root, `zz-key-probe-${process.pid}.txt`),
      join(root, 'service', 'testdata', `zz-key-probe-${process.pid}.txt`),
    ];
    try {
      for (const file of left) writeFileSync(file, 'probe');
      assert.deepEqual(keys(), before, 'ignored files do not count');
      writeFileSync(kept, 'probe');
      const after = keys();
      assert.notEqual(after.mscr, before.mscr);
      assert.equal(after.minio, before.minio);
      writeFileSync(kept, 'probe, edited');
      assert.notEqual(keys().mscr, after.mscr, 'the content counts, not only the name');
    } finally {
      for (const file of [kept, ...left]) rmSync(file, { force: true });
    }
    assert.deepEqual(keys(), before);
  });

  test('the mscr cache key covers exactly the files buildah sends as the build context', () => {
    const listed = buildImages('--list-context');
    assert.equal(listed.status, 0, listed.output);
    const keyed = JSON.parse(listed.output) as string[];
    // A probe image that copies the whole context, built with the same ignore file.
    const dir = mkdtempSync(join(work, 'probe-'));
    writeFileSync(join(dir, 'Containerfile'), 'FROM scratch\nCOPY . /context/\n');
    const ref = `localhost/mscr-context-probe:${process.pid}`;
    const buildah = (...args: string[]) => mustRun('buildah', [...buildahStorage, ...args]).trim();
    buildah(
      'build',
      '--isolation',
      'chroot',
      '--pull=never',
      '--ignorefile',
      join(root, 'Dockerfile.dockerignore'),
      '-f',
      join(dir, 'Containerfile'),
      '-t',
      ref,
      root,
    );
    const container = buildah('from', '--pull=never', ref);
    try {
      const mount = buildah('mount', container);
      const sent = listFiles(join(mount, 'context')).sort();
      assert.ok(sent.includes('service/http/app.ts') && sent.includes('.npmrc'));
      assert.deepEqual(sent, keyed);
    } finally {
      buildah('rm', container);
      buildah('rmi', ref);
    }
  });

  test('the mscr image configuration: non-root user, entrypoint and CMD, port, healthcheck, store', () => {
    const { config } = archiveConfig(index.mscr!.archive);
    assert.equal(config.User, '10001:10001');
    assert.deepEqual(config.Entrypoint, ['node', 'bin/mscr.js']);
    assert.deepEqual(config.Cmd, ['serve']);
    assert.equal(config.WorkingDir, '/app');
    // HTTP, and gRPC on KServe's port (issue 16).
    assert.deepEqual(Object.keys(config.ExposedPorts ?? {}).sort(), ['8080/tcp', '8081/tcp']);
    assert.deepEqual(Object.keys(config.Volumes ?? {}).sort(), [
      '/var/cache/mscr',
      '/var/lib/mscr',
    ]);
    assert.deepEqual(config.Healthcheck?.Test, ['CMD', 'node', 'docker/healthcheck.mjs']);
    assert.equal(config.StopSignal, 'SIGTERM');
    for (const env of [
      'NODE_ENV=production',
      'MSCR_PORT=8080',
      'MSCR_GRPC_PORT=8081',
      'MSCR_STORE=file:///var/lib/mscr/models',
    ])
      assert.ok(config.Env?.includes(env), env);
  });

  describe('the mscr image unpacked (umoci) and run with runc', () => {
    let bundle: ReturnType<typeof unpackArchive>;
    before(() => {
      bundle = unpackArchive(index.mscr!.archive, mkdtempSync(join(work, 'mscr-')));
    });

    test('its filesystem: the compiled app, production dependencies only, the user, Debian node 20', () => {
      const app = join(bundle.rootfs, 'app');
      for (const path of [
        'bin/mscr.js',
        'dist/cli/main.js',
        'dist/service/server.js',
        'dist/client/web/public/index.html',
        'docker/healthcheck.mjs',
        'node_modules/express/package.json',
        'node_modules/onnxruntime-node/package.json',
        'node_modules/sharp/package.json',
      ])
        assert.ok(existsSync(join(app, path)), `/app/${path}`);
      const version = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as {
        version: string;
      };
      assert.equal(version.version, pkg.version);
      for (const dev of ['typescript', 'eslint', 'prettier', 'fast-check'])
        assert.ok(!existsSync(join(app, 'node_modules', dev)), `no dev dependency ${dev}`);
      // No tests or test helpers (tsconfig.build.json leaves them out; tests/ is not sent).
      const stray = listFiles(join(app, 'dist')).filter((f) =>
        /\.test\.|testdata|(^|\/)testing\/|test-support|^tests\//.test(f),
      );
      assert.deepEqual(stray, [], 'no tests in the image');
      assert.ok(!existsSync(join(app, 'connectors')), 'sources stay in the build stage');
      const onnxBinaries = join(app, 'node_modules', 'onnxruntime-node', 'bin');
      const platforms = listFiles(onnxBinaries).map((f) => f.split('/').slice(1, 3).join('/'));
      assert.deepEqual(
        [...new Set(platforms)],
        [`${process.platform}/${process.arch}`],
        'onnxruntime for this platform only',
      );
      const passwd = readFileSync(join(bundle.rootfs, 'etc', 'passwd'), 'utf8');
      assert.match(passwd, /^mscr:x:10001:10001:/m);
      for (const dir of ['var/lib/mscr/models', 'var/cache/mscr'])
        assert.equal(statSync(join(bundle.rootfs, dir)).uid, 10001, dir);
      assert.ok(existsSync(join(bundle.rootfs, 'usr', 'bin', 'node')));
      assert.ok(
        !existsSync(join(bundle.rootfs, 'usr', 'bin', 'npm')),
        'the runtime base has no npm',
      );
      assert.match(
        readFileSync(join(bundle.rootfs, 'etc', 'os-release'), 'utf8'),
        /VERSION_CODENAME=trixie/,
      );
      // umoci's runtime config carries the image's user, command and working directory.
      assert.deepEqual(bundle.spec.process.user, {
        ...bundle.spec.process.user,
        uid: 10001,
        gid: 10001,
      });
      assert.deepEqual(bundle.spec.process.args, ['node', 'bin/mscr.js', 'serve']);
      assert.equal(bundle.spec.process.cwd, '/app');
    });

    test('the CMD serves a model from the store on loopback; healthcheck, infer, SIGTERM exits 0', async () => {
      const port = await freePort();
      const grpcPort = await freePort();
      const store = join(work, 'store');
      mkdirSync(store, { recursive: true });
      await publishToyClassifier(openStore(`file://${store}`), 'toy', 1);
      mustRun('chown', ['-R', '10001:10001', store]); // the store volume belongs to the image's user
      // As the chart runs it: read-only root, emptyDirs for /tmp and the cache, the store mounted.
      configure(bundle, {
        readonlyRoot: true,
        tmpfs: ['/tmp', '/var/cache/mscr'],
        binds: { [store]: '/var/lib/mscr/models' },
        env: {
          MSCR_HOST: '127.0.0.1',
          MSCR_PORT: String(port),
          // The host's network: a free port rather than the image's 8081, which may be taken.
          MSCR_GRPC_PORT: String(grpcPort),
          MSCR_WORKERS: '1',
          MSCR_DRAIN_TIMEOUT: '5',
        },
      });
      const container = start(bundle, `mscr-image-test-${process.pid}`, runcState());
      try {
        const base = `http://127.0.0.1:${port}`;
        const deadline = Date.now() + 120_000;
        await waitFor(`${base}/v2/health/ready`, container, deadline);
        const infer = await fetch(`${base}/v2/models/toy/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(toyInfer(2)),
        });
        assert.equal(infer.status, 200, await infer.clone().text());
        const body = (await infer.json()) as { outputs: { shape: number[] }[] };
        assert.deepEqual(body.outputs[0]?.shape, [2, 2]);
        const bad = await fetch(`${base}/v2/models/toy/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"inputs": [',
        });
        assert.equal(bad.status, 400);
        assert.ok(((await bad.json()) as { error?: string }).error);

        const health = container.exec(['node', 'docker/healthcheck.mjs']);
        assert.equal(health.status, 0, health.stderr);
        const who = container.exec(['id', '-u']);
        assert.equal(who.stdout.trim(), '10001');
        // onnxruntime-node's CPU library (the only platform the image keeps) loads.
        const onnx = container.exec(['node', '-e', "require('onnxruntime-node')"]);
        assert.equal(onnx.status, 0, onnx.stderr);
        const node = container.exec(['node', '--version']);
        assert.match(node.stdout, /^v20\.\d+\.\d+/);
        const write = container.exec(['sh', '-c', 'touch /app/x']);
        assert.notEqual(write.status, 0, 'the root filesystem is read-only');

        assert.equal(container.signal('TERM').status, 0);
        assert.equal(await container.exited, 0, container.output());
      } finally {
        container.remove();
      }
    });
  });

  test('the k6 image runs k6 as its own user; the MinIO image serves S3 on loopback', async () => {
    const k6 = unpackArchive(index.k6!.archive, mkdtempSync(join(work, 'k6-')));
    assert.deepEqual(k6.spec.process.args, ['k6', 'help']);
    assert.equal(k6.spec.process.user.uid, 12345);
    configure(k6, { args: ['k6', 'version'] });
    const k6run = start(k6, `k6-image-test-${process.pid}`, runcState());
    try {
      assert.equal(await k6run.exited, 0, k6run.output());
      assert.match(k6run.output(), new RegExp(`k6 ${tools.k6!.version.replace(/\./g, '\\.')}`));
    } finally {
      k6run.remove();
    }

    const minio = unpackArchive(index.minio!.archive, mkdtempSync(join(work, 'minio-')));
    assert.equal(minio.spec.process.user.uid, 10002);
    assert.deepEqual(minio.spec.process.args.slice(0, 3), ['minio', 'server', '/data']);
    const port = await freePort();
    const consolePort = await freePort();
    configure(minio, {
      args: [
        'minio',
        'server',
        '/data',
        '--address',
        `127.0.0.1:${port}`,
        '--console-address',
        `127.0.0.1:${consolePort}`,
      ],
      env: { MINIO_ROOT_USER: 'testadmin', MINIO_ROOT_PASSWORD: 'testadmin-secret' },
    });
    const server = start(minio, `minio-image-test-${process.pid}`, runcState());
    try {
      await waitFor(`http://127.0.0.1:${port}/minio/health/live`, server, Date.now() + 60_000);
      const anonymous = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(anonymous.status, 403, 'S3 refuses an unsigned bucket listing');
      assert.equal(server.signal('TERM').status, 0);
      await server.exited;
    } finally {
      server.remove();
    }
  });

  test('ctr imports every archive into containerd under its ref', async () => {
    const dir = mkdtempSync(join(work, 'containerd-'));
    const address = join(dir, 'containerd.sock');
    writeFileSync(
      join(dir, 'config.toml'),
      // Only what image import needs: no CRI plugin (the cluster runs its own containerd).
      'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n',
    );
    const daemon = spawn(
      'containerd',
      [
        '--config',
        join(dir, 'config.toml'),
        '--root',
        join(dir, 'root'),
        '--state',
        join(dir, 'state'),
        '--address',
        address,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    writeFileSync(join(dir, 'containerd.pid'), String(daemon.pid));
    let log = '';
    daemon.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise((resolve) => daemon.once('exit', resolve));
    const ctr = (...args: string[]) => run('ctr', ['--address', address, '-n', 'k8s.io', ...args]);
    try {
      const deadline = Date.now() + 30_000;
      while (ctr('version').status !== 0) {
        assert.ok(Date.now() < deadline, `containerd did not start:\n${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      for (const entry of Object.values(index)) {
        const imported = ctr('images', 'import', entry.archive);
        assert.equal(imported.status, 0, imported.stderr);
      }
      const listed = ctr('images', 'ls', '-q');
      for (const entry of Object.values(index))
        assert.ok(
          listed.stdout.split('\n').includes(entry.ref),
          `${entry.ref} in\n${listed.stdout}`,
        );
      const bad = ctr('images', 'import', join(root, 'package.json'));
      assert.notEqual(bad.status, 0, 'a file that is no image archive is refused');
    } finally {
      daemon.kill('SIGTERM');
      await exited;
      // containerd's snapshots are mounts below its root only while it runs; now plain files.
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
