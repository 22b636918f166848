/**
 * The k6 pods of the cluster journeys (suite/k6.ts), without a cluster: the ConfigMap holds
 * every file the scripts import or open, and the pod's own command, on the files laid out as
 * a ConfigMap volume lays them out (`..data/` and symlinks), runs loadtest/reload.ts with the
 * real k6 against a local `mscr serve` on loopback, is stopped from k6's REST API while a new
 * version is published, and prints the summary the journeys read: no failed load request,
 * the version switch seen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { POD_COMMAND, k6Api, parseSummary, scriptFiles } from './suite/k6.ts';
import { repoRoot } from './layout.ts';
import { sleep } from './host.ts';
import { freePort } from '../../tests/loopback.ts';
import { MSCR_BIN, runMscr } from '../../tests/run-mscr.ts';
import { sharedData } from '../../tests/shared-data.ts';

const loadtest = join(repoRoot, 'loadtest');

/** The relative files a k6 script imports or opens, followed through its imports. */
function referencedFiles(entry: string): Set<string> {
  const found = new Set<string>();
  const visit = (file: string) => {
    const rel = file.slice(loadtest.length + 1);
    if (found.has(rel)) return;
    found.add(rel);
    if (!file.endsWith('.ts')) return;
    const text = readFileSync(file, 'utf8');
    const specifiers = [
      ...text.matchAll(/^\s*import\s+(?!type\b)[^'"]*?from\s+'(\.[^']+)'/gm),
      ...text.matchAll(/import\.meta\.resolve\('(\.[^']+)'\)/g),
    ].map((m) => m[1]!);
    for (const specifier of specifiers) visit(resolve(dirname(file), specifier));
  };
  visit(join(loadtest, entry));
  return found;
}

test('the k6 ConfigMap holds every file the cluster scripts import or open, under valid keys', () => {
  const files = scriptFiles();
  const paths = new Set(files.map((f) => f.path));
  for (const script of ['load.ts', 'reload.ts']) {
    const needed = referencedFiles(script);
    assert.ok(needed.has('lib/api.ts') && needed.has('samples/cat_0003.jpg'), [...needed].join());
    for (const file of needed) assert.ok(paths.has(file), `${script} needs ${file}`);
  }
  for (const f of files) assert.match(f.key, /^[-._a-zA-Z0-9]+$/);
  const bytes = files.reduce((sum, f) => sum + readFileSync(join(loadtest, f.path)).length, 0);
  assert.ok(bytes < 900_000, `a ConfigMap holds at most 1 MiB; the scripts take ${bytes} bytes`);
});

test('a k6 log without a summary, or with a broken one, fails with the log', () => {
  assert.throws(() => parseSummary('k6 crashed\n'), /no summary in the k6 pod's log/);
  assert.throws(
    () => parseSummary('----- mscr k6 summary json -----\ncat: no such file\n'),
    /the k6 summary is not JSON/,
  );
});

test("the pod's command runs reload.ts from the ConfigMap layout, stops on the REST API and prints the summary", async () => {
  const k6 = join(repoRoot, '.tools', 'bin', 'k6');
  assert.ok(existsSync(k6), 'k6 is missing: run `node scripts/setup-tools.mjs k6`');
  const dir = mkdtempSync(join(tmpdir(), 'mscr-k6-pod-'));
  const store = pathToFileURL(join(dir, 'store')).href;
  const train = async () => {
    const trained = await runMscr([
      'train',
      '--model',
      'stock-lstm',
      '--data',
      sharedData('stock/goog_daily.csv'),
      '--store',
      store,
      '--epochs',
      '1',
    ]);
    assert.equal(trained.code, 0, trained.stderr);
  };
  const children: ReturnType<typeof spawn>[] = [];
  try {
    await train();
    const port = await freePort();
    const serve = spawn(process.execPath, [MSCR_BIN, 'serve'], {
      env: {
        ...process.env,
        MSCR_BACKEND: 'wasm',
        MSCR_STORE: store,
        MSCR_HOST: '127.0.0.1',
        MSCR_PORT: String(port),
        MSCR_GRPC_PORT: String(await freePort()),
        MSCR_POLL_INTERVAL: '1',
        MSCR_LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    children.push(serve);
    const ready = Date.now() + 120_000;
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${port}/v2/health/ready`).catch(() => undefined);
      if (res?.status === 200) break;
      assert.ok(Date.now() < ready, 'mscr serve was not ready within 120 s');
      await sleep(500);
    }
    // The files as a ConfigMap volume has them: in ..data/, reached through symlinks.
    const scripts = join(dir, 'scripts');
    for (const f of scriptFiles()) {
      const target = join(scripts, '..data', f.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, readFileSync(join(loadtest, f.path)));
    }
    for (const top of new Set(scriptFiles().map((f) => f.path.split('/')[0]!))) {
      symlinkSync(join('..data', top), join(scripts, top));
    }
    mkdirSync(join(dir, 'results'));
    const apiPort = await freePort();
    const pod = spawn('sh', ['-c', POD_COMMAND], {
      env: {
        PATH: `${dirname(k6)}:${process.env.PATH ?? ''}`,
        HOME: dir,
        MODEL: 'stock-lstm',
        RATE: '20',
        PRE_VUS: '4',
        MAX_VUS: '4',
        DURATION: '30m',
        TIMEOUT: '15s',
        BASE_URL: `http://127.0.0.1:${port}`,
        LOAD_SCRIPT: 'reload',
        SCRIPTS_DIR: scripts,
        RESULTS_DIR: join(dir, 'results'),
        LOAD_API_ADDRESS: `127.0.0.1:${apiPort}`,
        K6_NO_USAGE_REPORT: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(pod);
    // Apart here: on the host the two pipes are read in no fixed order (a pod's log keeps it).
    let log = '';
    let errors = '';
    pod.stdout.on('data', (d: Buffer) => (log += d.toString()));
    pod.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    const exited = new Promise<number | null>((r) => pod.on('close', r));
    const api = k6Api(`http://127.0.0.1:${apiPort}`);
    const deadline = Date.now() + 120_000;
    while (!(await api.sendsLoad().catch(() => false))) {
      assert.ok(
        Date.now() < deadline,
        `k6 sent no load within 120 s:\n${errors.slice(-2000)}${log.slice(-2000)}`,
      );
      assert.equal(
        pod.exitCode,
        null,
        `k6 ended before its load began:\n${errors.slice(-2000)}${log.slice(-2000)}`,
      );
      await sleep(500);
    }
    await train(); // version 2, published under load
    await sleep(5000); // the service polls the store every second
    await api.stop();
    const code = await exited;
    assert.equal(
      code,
      103,
      `k6 exits 103 when stopped from the REST API:\n${errors.slice(-2000)}${log.slice(-2000)}`,
    );
    const summary = parseSummary(log);
    assert.ok(summary.requests >= 20, JSON.stringify(summary));
    assert.equal(summary.failedRequestsAll, 0, JSON.stringify(summary));
    assert.equal(summary.checks.fails, 0, JSON.stringify(summary.checks));
    assert.equal(summary.version?.before, 1, JSON.stringify(summary.version));
    assert.equal(summary.version?.after, 2, JSON.stringify(summary.version));
    assert.ok((summary.version?.responsesFromNewVersion ?? 0) > 0);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
