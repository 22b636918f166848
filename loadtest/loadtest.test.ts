/**
 * The load tests themselves, run for real: `npm run loadtest` starts the embedded service,
 * runs the real k6 (`.tools/bin/k6`) on `smoke` and a short `reload`, and must exit 0 only
 * when their thresholds hold; a threshold that cannot hold must make it exit non-zero; Ctrl-C
 * must stop everything it started; bad input must stop it with a clear message. The k6
 * scripts type-check against @types/k6, and the bundled payloads match the shared real data.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deriveSamples, samplesDir } from './samples.ts';
import { k6Env, parseArgs, SCRIPTS, UsageError } from './run.ts';

const root = resolve(import.meta.dirname, '..');
const runner = join(root, 'loadtest', 'run.ts');

interface Summary {
  script: string;
  passed: boolean;
  requests: number;
  errorRate: number;
  failedRequestsAll: number;
  checks: { passes: number; fails: number };
  thresholds: { metric: string; threshold: string; ok: boolean }[];
  byProtocol: Record<string, { requests: number }>;
  version?: { before: number; after: number; switched: boolean; responsesFromNewVersion: number };
}

/** `npm run loadtest -- <args>` as a child process, output captured. */
function runLoadtest(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', runner, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 240_000,
  });
}

async function withResults<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'mscr-loadtest-results-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readSummary(dir: string, script: string): Promise<Summary> {
  return JSON.parse(await readFile(join(dir, `${script}-summary.json`), 'utf8')) as Summary;
}

function explain(result: { status: number | null; stdout: string; stderr: string }): string {
  return `exit ${result.status}\n--- stdout\n${result.stdout.slice(-4000)}\n--- stderr\n${result.stderr.slice(-4000)}`;
}

describe('runner input', () => {
  test('an unknown script name stops with the list of scripts and exit code 2', () => {
    const result = runLoadtest(['smok']);
    assert.equal(result.status, 2, explain(result));
    assert.match(result.stderr, /unknown script "smok": the scripts are smoke, load, spike/);
    assert.match(result.stderr, /npm run loadtest -- --help for the usage/);
  });

  test('no script name, bad options and impossible combinations are refused', () => {
    const refuse = (argv: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}) =>
      assert.throws(
        () => parseArgs(argv, env),
        (error: unknown) => {
          assert.ok(error instanceof UsageError);
          assert.match(error.message, pattern);
          return true;
        },
      );
    refuse([], /name a script first: smoke, load/);
    refuse(['-e', 'RATE=5'], /name a script first/);
    refuse(['load', '--url'], /--url needs a value/);
    refuse(['load', '--url', 'localhost:8080'], /must be an http:\/\/ or https:\/\/ URL/);
    refuse(['load'], /must be an http/, { BASE_URL: 'ftp://x' });
    refuse(['load', '--publish-at', '5'], /are for the reload script/);
    refuse(['reload', '--publish-at', 'soon'], /--publish-at takes seconds/);
    refuse(['reload', '--url', 'http://svc:8080'], /needs --publish-cmd/);
    refuse(['load', '--url', 'http://a', '--store', 'file:///tmp/x'], /give one/);
  });

  test('own options are taken out, everything else goes to k6 in order', () => {
    const parsed = parseArgs(
      ['load', '-e', 'RATE=50', '--url=http://svc:8080/', '--quiet', '--results', 'out'],
      {},
    );
    assert.notEqual(parsed, 'help');
    if (parsed === 'help') return;
    assert.equal(parsed.script, 'load');
    assert.equal(parsed.url, 'http://svc:8080');
    assert.deepEqual(parsed.k6Args, ['-e', 'RATE=50', '--quiet']);
    assert.equal(parsed.results, resolve('out'));
    assert.equal(parseArgs(['--help']), 'help');
    assert.equal(k6Env(['-e', 'MODEL=a', '--env=RATE=3'], { MODEL: 'b' }).MODEL, 'a');
    assert.equal(k6Env(['-e', 'MODEL=a', '--env=RATE=3'], {}).RATE, '3');
    assert.deepEqual([...SCRIPTS], ['smoke', 'load', 'spike', 'stress', 'soak', 'reload', 'grpc']);
  });
});

describe('the k6 scripts', () => {
  test('type-check against @types/k6 (and the runner against Node)', () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const project of ['loadtest/tsconfig.json', 'loadtest/tsconfig.node.json']) {
      const result = spawnSync(process.execPath, [tsc, '--noEmit', '-p', project], {
        cwd: root,
        encoding: 'utf8',
      });
      assert.equal(result.status, 0, `${project}:\n${result.stdout}${result.stderr}`);
    }
  });

  test('the bundled payloads are the shared real data (the image decoded by the server decoder)', async () => {
    const derived = await deriveSamples();
    for (const [name, bytes] of Object.entries(derived)) {
      const bundled = new Uint8Array(await readFile(join(samplesDir, name)));
      assert.deepEqual(
        bundled,
        bytes,
        `loadtest/samples/${name} (regenerate: node --import tsx loadtest/samples.ts)`,
      );
    }
  });
});

describe('real k6 runs against the embedded service', () => {
  test('smoke: every endpoint once, all thresholds hold, exit 0', () =>
    withResults(async (dir) => {
      const result = runLoadtest(['smoke', '--results', dir, '--quiet']);
      assert.equal(result.status, 0, explain(result));
      const summary = await readSummary(dir, 'smoke');
      assert.equal(summary.passed, true);
      assert.equal(summary.failedRequestsAll, 0);
      assert.equal(summary.checks.fails, 0);
      assert.ok(summary.checks.passes >= 40, `checks: ${summary.checks.passes}`);
      assert.deepEqual(Object.keys(summary.byProtocol).sort(), ['mscr', 'v1', 'v2']);
      assert.ok(summary.thresholds.some((t) => t.metric === 'http_req_failed' && t.ok));
      assert.ok(existsSync(join(dir, 'smoke-report.html')), 'the HTML report');
      assert.match(result.stderr, /stopped the embedded service/);
    }));

  test('grpc: k6/net/grpc at a constant rate, ModelInfer raw and typed and TF Serving Predict, no failed call', () =>
    withResults(async (dir) => {
      const result = runLoadtest([
        'grpc',
        '--results',
        dir,
        '--quiet',
        '-e',
        'MODEL=stock-lstm',
        '-e',
        'RATE=10',
        '-e',
        'DURATION=5s',
      ]);
      assert.equal(result.status, 0, explain(result));
      const summary = JSON.parse(await readFile(join(dir, 'grpc-summary.json'), 'utf8')) as {
        passed: boolean;
        calls: number;
        failedCalls: number;
        model: string;
        checks: { passes: number; fails: number };
      };
      assert.equal(summary.passed, true);
      assert.equal(summary.model, 'stock-lstm');
      assert.equal(summary.failedCalls, 0);
      assert.equal(summary.checks.fails, 0);
      assert.ok(summary.calls >= 40, `calls: ${summary.calls}`);
      assert.ok(summary.checks.passes >= 2 * summary.calls, `checks: ${summary.checks.passes}`);
    }));

  test('a threshold that cannot hold (p95 under 1 microsecond) fails the run: exit 99', () =>
    withResults(async (dir) => {
      const result = runLoadtest(['smoke', '--results', dir, '--quiet', '-e', 'P95_MS=0.001']);
      assert.equal(result.status, 99, explain(result));
      assert.match(result.stderr, /a threshold failed/);
      const summary = await readSummary(dir, 'smoke');
      assert.equal(summary.passed, false);
      const failed = summary.thresholds.filter((t) => !t.ok).map((t) => t.threshold);
      assert.ok(failed.includes('p(95)<0.001'), `failed thresholds: ${failed.join(', ')}`);
    }));

  test('reload: a new version published under load, zero failed requests, the version switches', () =>
    withResults(async (dir) => {
      const result = runLoadtest([
        'reload',
        '--results',
        dir,
        '--publish-at',
        '3',
        '--quiet',
        '-e',
        'MODEL=stock-lstm',
        '-e',
        'RATE=10',
        '-e',
        'DURATION=25s',
      ]);
      assert.equal(result.status, 0, explain(result));
      const summary = await readSummary(dir, 'reload');
      assert.equal(summary.passed, true);
      assert.equal(summary.errorRate, 0);
      assert.equal(summary.failedRequestsAll, 0);
      assert.ok(summary.requests >= 240, `requests: ${summary.requests}`);
      assert.equal(summary.version?.before, 1);
      assert.equal(summary.version?.after, 2);
      assert.equal(summary.version?.switched, true);
      assert.ok((summary.version?.responsesFromNewVersion ?? 0) > 0);
      assert.match(result.stderr, /published at/);
    }));

  test('reload fails (exit 99) when no new version is published', () =>
    withResults(async (dir) => {
      const result = runLoadtest([
        'reload',
        '--results',
        dir,
        '--publish-cmd',
        'true',
        '--publish-at',
        '1',
        '--quiet',
        '-e',
        'MODEL=stock-lstm',
        '-e',
        'RATE=5',
        '-e',
        'DURATION=6s',
      ]);
      assert.equal(result.status, 99, explain(result));
      const summary = await readSummary(dir, 'reload');
      assert.equal(summary.failedRequestsAll, 0);
      assert.deepEqual(summary.version && [summary.version.before, summary.version.after], [1, 1]);
      const failed = summary.thresholds.filter((t) => !t.ok).map((t) => t.metric);
      assert.deepEqual(failed.sort(), ['new_version_responses', 'version_switched']);
    }));

  test('Ctrl-C stops k6 (which still writes its summary), the service and the temporary store', () =>
    withResults(async (dir) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          runner,
          'load',
          '--results',
          dir,
          '--quiet',
          '-e',
          'RATE=5',
          '-e',
          'DURATION=2m',
        ],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdout.resume();
      const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      const deadline = Date.now() + 120_000;
      while (!/\[loadtest\] k6 run/.test(stderr)) {
        assert.ok(Date.now() < deadline, `k6 did not start:\n${stderr}`);
        assert.equal(child.exitCode, null, `the runner exited early:\n${stderr}`);
        await new Promise((done) => setTimeout(done, 100));
      }
      await new Promise((done) => setTimeout(done, 3000));
      child.kill('SIGINT');
      const code = await exited;
      assert.notEqual(code, 0, stderr);
      const url = /serving \S+ at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
      const store = /training the embedded models into (\S+)/.exec(stderr)?.[1];
      assert.ok(url && store, stderr);
      await assert.rejects(fetch(`${url}/v2/health/live`), 'the service is stopped');
      assert.equal(existsSync(fileURLToPath(store)), false, 'the temporary store is removed');
      assert.match(stderr, /stopped the embedded service/);
      const summary = await readSummary(dir, 'load');
      assert.ok(summary.requests > 0 && summary.failedRequestsAll === 0, JSON.stringify(summary));
    }));
});
