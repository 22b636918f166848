/**
 * `npm run loadtest -- <script> [options] [k6 arguments]`: runs one of the k6 scripts in
 * loadtest/ with the real k6 (`.tools/bin/k6`, built by `node scripts/setup-tools.mjs k6`).
 *
 * Without `--url` (or `BASE_URL`) it starts the embedded service first: a temporary local
 * store with two small models trained on the shared real data (`cifar10-cnn` on 300 CIFAR-10
 * training images, `stock-lstm` on the GOOG prices; one epoch each, about 10 s), served by
 * `mscr serve` on a free loopback port, and waits for `/v2/health/ready`. For `reload` it
 * publishes a new version of the model under load (`mscr train` into the store, or
 * `--publish-cmd`) `--publish-at` seconds into the run. Then it stops what it started (also on
 * Ctrl-C), prints where the summary and the HTML report are, and exits with k6's exit code
 * (99: a threshold failed). Bad usage exits 2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sharedDataRoot } from '../tests/shared-data.ts';

export const SCRIPTS = ['smoke', 'load', 'spike', 'stress', 'soak', 'reload', 'grpc'] as const;
export type ScriptName = (typeof SCRIPTS)[number];

const root = resolve(import.meta.dirname, '..');
const mscr = join(root, 'bin', 'mscr.js');

export const USAGE = `usage: npm run loadtest -- <script> [options] [k6 arguments]

scripts:
  smoke    every endpoint once, V1 and V2, image and CSV
  load     constant arrival rate (RATE/s for DURATION), p95/p99 and error thresholds
  spike    BASE_RATE, a jump to SPIKE_RATE, back: no errors, recovery
  stress   rising steps (STEPS) to find the knee
  soak     a low rate for a long time (RATE per TIME_UNIT for DURATION): availability
  reload   steady load while a new model version is published: no errors, version switch
  grpc     constant rate over gRPC (k6/net/grpc): ModelInfer raw and typed, TF Serving Predict

options:
  --url <url>            test this service (default: BASE_URL, else start the embedded one)
  --store <uri>          embedded service: serve this store (default: a new temporary one
                         with two small models trained on ../shared/data)
  --publish-cmd <cmd>    reload: shell command that publishes a new version of the model
                         (default with the temporary store: mscr train of MODEL into it)
  --publish-at <s>       reload: seconds into the run to publish (default PUBLISH_AT or 10)
  --results <dir>        where the summary and report go (default results/loadtest)
  --k6 <path>            the k6 binary (default K6, else .tools/bin/k6, else k6 on PATH)
  -h, --help             this text

Anything else goes to k6, e.g. -e RATE=50 -e DURATION=2m. Script parameters come from
-e or the environment (BASE_URL, GRPC_ADDR, MODEL, RATE, DURATION, PROTOCOLS, P95_MS, ...; see the
comment at the top of each script). The embedded service reads MSCR_* variables too
(e.g. MSCR_WORKERS=1).`;

export interface RunOptions {
  script: ScriptName;
  url?: string;
  store?: string;
  publishCmd?: string;
  publishAt?: number;
  results: string;
  k6?: string;
  k6Args: string[];
}

export class UsageError extends Error {}

/** The runner's arguments; everything it does not know goes to k6 in order. */
export function parseArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): RunOptions | 'help' {
  const rest: string[] = [];
  const own: Record<string, string> = {};
  const valued = ['--url', '--store', '--publish-cmd', '--publish-at', '--results', '--k6'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h' || arg === '--help') return 'help';
    const [flag, inline] = arg.startsWith('--') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    if (flag !== undefined && valued.includes(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
      own[flag] = value;
    } else {
      rest.push(arg);
    }
  }
  const script = rest.shift();
  if (script === undefined || script.startsWith('-')) {
    throw new UsageError(`name a script first: ${SCRIPTS.join(', ')}`);
  }
  if (!(SCRIPTS as readonly string[]).includes(script)) {
    throw new UsageError(`unknown script "${script}": the scripts are ${SCRIPTS.join(', ')}`);
  }
  let publishAt: number | undefined;
  const publishAtText = own['--publish-at'] ?? env.PUBLISH_AT;
  if (publishAtText !== undefined && publishAtText !== '') {
    publishAt = Number(publishAtText);
    if (!Number.isFinite(publishAt) || publishAt < 0) {
      throw new UsageError(`--publish-at takes seconds (>= 0), got "${publishAtText}"`);
    }
  }
  const url = own['--url'] ?? (env.BASE_URL || undefined);
  if (url !== undefined && !/^https?:\/\/[^/]/.test(url)) {
    throw new UsageError(`--url / BASE_URL must be an http:// or https:// URL, got "${url}"`);
  }
  if (url !== undefined && own['--store'] !== undefined) {
    throw new UsageError('--store starts the embedded service; --url tests another: give one');
  }
  if (script !== 'reload' && (own['--publish-cmd'] ?? own['--publish-at']) !== undefined) {
    throw new UsageError('--publish-cmd and --publish-at are for the reload script');
  }
  if (script === 'reload' && own['--publish-cmd'] === undefined && (url ?? own['--store'])) {
    throw new UsageError(
      'reload against your own service or store needs --publish-cmd "<command that publishes a new version of MODEL>", e.g. --publish-cmd "npx mscr train --model cifar10-cnn --data ../shared/data/cifar10/train --store s3://bucket/models --epochs 1"',
    );
  }
  return {
    script: script as ScriptName,
    ...(url !== undefined ? { url: url.replace(/\/+$/, '') } : {}),
    ...(own['--store'] !== undefined ? { store: own['--store'] } : {}),
    ...(own['--publish-cmd'] !== undefined ? { publishCmd: own['--publish-cmd'] } : {}),
    ...(publishAt !== undefined ? { publishAt } : {}),
    results: resolve(own['--results'] ?? join(root, 'results', 'loadtest')),
    ...(own['--k6'] !== undefined ? { k6: own['--k6'] } : {}),
    k6Args: rest,
  };
}

/** `-e NAME=value` / `--env NAME=value` pairs of the k6 arguments, over the environment. */
export function k6Env(args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  const out: Record<string, string | undefined> = { ...env };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const pair =
      arg === '-e' || arg === '--env' ? args[++i] : /^--env=/.test(arg) ? arg.slice(6) : undefined;
    const match = pair?.match(/^([^=]+)=(.*)$/s);
    if (match) out[match[1] as string] = match[2];
  }
  return out;
}

/** The k6 binary: `--k6`, `K6`, `.tools/bin/k6`, then `k6` on PATH. */
export function findK6(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [explicit, env.K6, join(root, '.tools', 'bin', 'k6')];
  for (const candidate of candidates) if (candidate && existsSync(candidate)) return candidate;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, 'k6'))) return join(dir, 'k6');
  }
  throw new UsageError(
    `k6 was not found (${explicit ?? env.K6 ?? '.tools/bin/k6'}, nor on PATH): build it with \`node scripts/setup-tools.mjs k6\``,
  );
}

function log(message: string): void {
  console.error(`[loadtest] ${message}`);
}

/** The embedded models: how to train (and, for reload, train again) each. */
function embeddedModels(): { model: string; args: string[] }[] {
  if (sharedDataRoot === undefined) {
    throw new UsageError(
      'the embedded service trains on the shared real data, which was not found: set MSCR_SHARED_DATA, or test a running service with --url (e.g. `npm start`, then --url http://localhost:8080)',
    );
  }
  return [
    {
      model: 'cifar10-cnn',
      args: ['--data', join(sharedDataRoot, 'cifar10', 'train'), '--limit', '300'],
    },
    { model: 'stock-lstm', args: ['--data', join(sharedDataRoot, 'stock', 'goog_daily.csv')] },
  ];
}

/** Children this run started, stopped at the end whatever happens. */
const children = new Set<ChildProcess>();

function start(command: string, args: string[], options: Parameters<typeof spawn>[2] = {}) {
  // Own process group: a Ctrl-C at the terminal reaches the runner only, which then stops
  // k6 gracefully (so it still writes its summary) and the service after it.
  const child = spawn(command, args, { detached: true, ...options });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** SIGTERM (the service drains), then SIGKILL after `graceMs`. */
async function stop(child: ChildProcess, graceMs = 30_000): Promise<void> {
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function run(command: string, args: string[], logFile: string, what: string) {
  const out = openSync(logFile, 'a');
  const child = start(command, args, { stdio: ['ignore', out, out], cwd: root });
  const { code, signal } = await exited(child);
  if (code !== 0) {
    throw new Error(`${what} failed (${signal ?? `exit ${code}`}); ${logFile}:\n${tail(logFile)}`);
  }
}

function trainArgs(model: { model: string; args: string[] }, store: string): string[] {
  return [
    mscr,
    'train',
    '--model',
    model.model,
    ...model.args,
    '--store',
    store,
    '--epochs',
    '1',
    '--backend',
    'wasm',
    '--quiet',
  ];
}

interface Embedded {
  url: string;
  /** host:port of the gRPC port. */
  grpcAddr: string;
  store: string;
  service: ChildProcess;
  temp?: string;
}

async function startEmbedded(options: RunOptions): Promise<Embedded> {
  let temp: string | undefined;
  let store = options.store;
  const serviceLog = join(options.results, `${options.script}-service.log`);
  if (store === undefined) {
    temp = await mkdtemp(join(tmpdir(), 'mscr-loadtest-'));
    store = pathToFileURL(join(temp, 'store')).href;
    const started = Date.now();
    log(`training the embedded models into ${store} (one epoch each)`);
    await Promise.all(
      embeddedModels().map((m) =>
        run(process.execPath, trainArgs(m, store as string), serviceLog, `training ${m.model}`),
      ),
    );
    log(`trained in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const port = await freePort();
  const grpcPort = await freePort();
  const env = {
    ...process.env,
    MSCR_STORE: store,
    MSCR_HOST: '127.0.0.1',
    MSCR_PORT: String(port),
    MSCR_GRPC_PORT: String(grpcPort),
    MSCR_POLL_INTERVAL: process.env.MSCR_POLL_INTERVAL || '1',
    MSCR_LOG_LEVEL: process.env.MSCR_LOG_LEVEL || 'warn',
  };
  const out = openSync(serviceLog, 'a');
  const service = start(process.execPath, [mscr, 'serve'], {
    env,
    cwd: root,
    stdio: ['ignore', out, out],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (service.exitCode !== null || service.signalCode !== null) {
      throw new Error(`mscr serve exited before it was ready; ${serviceLog}:\n${tail(serviceLog)}`);
    }
    const ready = await fetch(`${url}/v2/health/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`mscr serve was not ready within 120 s`);
    await new Promise((done) => setTimeout(done, 200));
  }
  log(`serving ${store} at ${url} (log: ${relative(process.cwd(), serviceLog)})`);
  return {
    url,
    grpcAddr: `127.0.0.1:${grpcPort}`,
    store,
    service,
    ...(temp !== undefined ? { temp } : {}),
  };
}

/** Runs the whole thing; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let options: RunOptions;
  let k6: string;
  try {
    const parsed = parseArgs(argv);
    if (parsed === 'help') {
      console.log(USAGE);
      return 0;
    }
    options = parsed;
    k6 = findK6(options.k6);
    if (!options.url && !options.store) embeddedModels();
    const model = k6Env(options.k6Args).MODEL || 'cifar10-cnn';
    if (options.script === 'reload' && options.publishCmd === undefined) {
      if (!embeddedModels().some((m) => m.model === model)) {
        throw new UsageError(
          `reload publishes MODEL=${model} with --publish-cmd only: the embedded store has cifar10-cnn and stock-lstm`,
        );
      }
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`loadtest: ${error.message}\n(npm run loadtest -- --help for the usage)`);
      return 2;
    }
    throw error;
  }
  mkdirSync(options.results, { recursive: true });
  const script = options.script;
  const env = k6Env(options.k6Args);
  let embedded: Embedded | undefined;
  let k6Child: ChildProcess | undefined;
  let publisher: ChildProcess | undefined;
  let publishTimer: NodeJS.Timeout | undefined;
  let publishError: string | undefined;
  let interrupted = 0;
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now();
    // npm forwards the terminal's Ctrl-C too: one press arrives twice, close together.
    if (interrupted > 0 && now - firstSignalAt < 1000) return;
    interrupted++;
    if (interrupted === 1) firstSignalAt = now;
    log(
      interrupted === 1
        ? `${signal}: stopping k6 (it still writes its summary), then the service; again to force`
        : `${signal} again: killing k6`,
    );
    if (k6Child) signalGroup(k6Child, interrupted === 1 ? 'SIGINT' : 'SIGKILL');
    if (publisher) signalGroup(publisher, 'SIGTERM');
    if (!k6Child && interrupted > 1) process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let url = options.url;
    if (url === undefined) {
      embedded = await startEmbedded(options);
      url = embedded.url;
    }
    if (interrupted > 0) return 130;
    const report = join(options.results, `${script}-report.html`);
    const summary = join(options.results, `${script}-summary.json`);
    const childEnv = {
      ...process.env,
      BASE_URL: url,
      ...(embedded !== undefined ? { GRPC_ADDR: embedded.grpcAddr } : {}),
      RESULTS_DIR: options.results,
      K6_WEB_DASHBOARD: process.env.K6_WEB_DASHBOARD || 'true',
      K6_WEB_DASHBOARD_PORT: process.env.K6_WEB_DASHBOARD_PORT || '-1',
      // The dashboard writes no report for a run shorter than two periods (it lengthens the
      // period of long runs itself, to at most 2,880 points).
      K6_WEB_DASHBOARD_PERIOD:
        process.env.K6_WEB_DASHBOARD_PERIOD || (script === 'smoke' ? '10ms' : '1s'),
      K6_WEB_DASHBOARD_EXPORT: process.env.K6_WEB_DASHBOARD_EXPORT || report,
    };
    const args = [
      'run',
      '--no-usage-report',
      ...options.k6Args,
      join(root, 'loadtest', `${script}.ts`),
    ];
    log(`k6 ${args.join(' ')}  (BASE_URL=${url})`);
    k6Child = start(k6, args, { env: childEnv, stdio: 'inherit', cwd: root });
    if (script === 'reload') {
      const at = options.publishAt ?? 10;
      const model = env.MODEL || 'cifar10-cnn';
      let command: string;
      let commandArgs: string[];
      if (options.publishCmd !== undefined) {
        command = options.publishCmd;
        commandArgs = [];
      } else {
        const known = embeddedModels().find((m) => m.model === model);
        command = process.execPath;
        commandArgs = trainArgs(
          known as { model: string; args: string[] },
          (embedded as Embedded).store,
        );
      }
      const publishLog = join(options.results, 'reload-publish.log');
      const k6Started = Date.now();
      publishTimer = setTimeout(() => {
        log(`${at} s in: publishing a new version of ${model}`);
        const out = openSync(publishLog, 'w');
        publisher = start(command, commandArgs, {
          stdio: ['ignore', out, out],
          cwd: root,
          shell: options.publishCmd !== undefined,
        });
        exited(publisher).then(({ code, signal }) => {
          const seconds = ((Date.now() - k6Started) / 1000).toFixed(1);
          if (code === 0)
            log(`published at ${seconds} s (log: ${relative(process.cwd(), publishLog)})`);
          else {
            publishError = `publishing failed (${signal ?? `exit ${code}`}); ${publishLog}:\n${tail(publishLog)}`;
            log(publishError);
          }
        });
      }, at * 1000);
    }
    const { code, signal } = await exited(k6Child);
    if (publishTimer) clearTimeout(publishTimer);
    if (publisher) await stop(publisher, 5000);
    const exitCode = code ?? 130;
    const files = [summary, report].filter(existsSync).map((f) => relative(process.cwd(), f));
    log(
      `k6 ${signal ? `ended by ${signal}` : `exited ${code}`}${exitCode === 99 ? ' (a threshold failed)' : ''}; ${files.length ? `results: ${files.join(', ')}` : 'no results written'}${existsSync(report) ? '' : ' (k6 writes no HTML report for runs shorter than about two dashboard periods, K6_WEB_DASHBOARD_PERIOD)'}`,
    );
    if (exitCode === 0 && publishError !== undefined) return 1;
    return interrupted > 0 && exitCode === 0 ? 130 : exitCode;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`loadtest: ${error.message}`);
      return 2;
    }
    console.error(`loadtest: ${(error as Error).message}`);
    return 1;
  } finally {
    if (publishTimer) clearTimeout(publishTimer);
    for (const child of [...children])
      if (child !== embedded?.service) signalGroup(child, 'SIGKILL');
    if (embedded) {
      await stop(embedded.service);
      if (embedded.temp) await rm(embedded.temp, { recursive: true, force: true });
      log('stopped the embedded service');
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (process.argv[1] === import.meta.filename) {
  process.exitCode = await main(process.argv.slice(2));
}
