/**
 * The container images, without a Docker engine: hadolint (pinned in
 * scripts/setup-validators.mjs) lints both Dockerfiles; their structure is checked against
 * the chart (user, port, store path, health endpoint); and the image's runtime layout is
 * rebuilt in a temporary folder (the compiled dist/, bin/, package.json and only the
 * production dependencies of package-lock.json) to run the image's ENTRYPOINT and CMD and
 * its HEALTHCHECK script against a real server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
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
import { parse } from 'yaml';
import { openStore } from '../connectors/store/index.ts';
import { freePort } from '../tests/loopback.ts';
import { publishToyClassifier, toyInfer } from '../service/test-support.ts';

const root = resolve(import.meta.dirname, '..');
const hadolint = join(root, '.tools', 'bin', 'hadolint');
const DOCKERFILES = ['Dockerfile', 'docker/Dockerfile.gpu'];
// The MinIO and k6 images scripts/build-images.mjs builds for the cluster tests.
const TOOL_DOCKERFILES = ['docker/minio.Dockerfile', 'docker/k6.Dockerfile'];

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile stages with their instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const lines: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    if (current === '' && /^\s*#/.test(raw)) continue;
    if (raw.trimEnd().endsWith('\\')) {
      current += raw.trimEnd().slice(0, -1) + ' ';
      continue;
    }
    current += raw;
    if (current.trim() !== '') lines.push(current.trim());
    current = '';
  }
  const stages: Stage[] = [];
  for (const line of lines) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: match?.[1] ?? args, name: match?.[2], instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

function instructions(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    cwd: options.cwd,
    env: options.env ?? process.env,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return result;
}

before(() => {
  if (!existsSync(hadolint)) {
    throw new Error(`${hadolint} is missing: run \`node scripts/setup-validators.mjs\` first`);
  }
});

describe('Dockerfiles', () => {
  for (const file of [...DOCKERFILES, ...TOOL_DOCKERFILES]) {
    test(`${file}: hadolint finds nothing`, () => {
      const result = run(hadolint, ['--format', 'json', join(root, file)]);
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), []);
    });
  }

  test('hadolint does report a bad Dockerfile (the checks above can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mscr-hadolint-'));
    try {
      writeFileSync(join(dir, 'Dockerfile'), 'FROM node:latest\nRUN cd /app && npm install\n');
      const result = run(hadolint, ['--format', 'json', join(dir, 'Dockerfile')]);
      assert.notEqual(result.status, 0);
      const codes = (JSON.parse(result.stdout) as { code: string }[]).map((f) => f.code);
      assert.ok(codes.includes('DL3007') && codes.includes('DL3003'), codes.join(', '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const values = parse(readFileSync(join(root, 'helm', 'mscr', 'values.yaml'), 'utf8')) as {
    podSecurityContext: { runAsUser: number; runAsGroup: number };
    config: { port: number; grpcPort: number };
    store: { uri: string };
    livenessProbe: { httpGet: { path: string } };
  };

  for (const file of DOCKERFILES) {
    test(`${file}: multi-stage, production dependencies, non-root, healthcheck, entrypoint; agrees with the chart`, () => {
      const text = readFileSync(join(root, file), 'utf8');
      const stages = parseDockerfile(text);
      assert.ok(stages.length >= 3, 'multi-stage');
      const final = stages.at(-1)!;
      const runs = stages.flatMap((s) => instructions(s, 'RUN')).join('\n');
      assert.match(runs, /npm ci --omit=dev/);
      assert.deepEqual(instructions(final, 'USER'), [
        `${values.podSecurityContext.runAsUser}:${values.podSecurityContext.runAsGroup}`,
      ]);
      assert.deepEqual(instructions(final, 'EXPOSE'), [
        `${values.config.port} ${values.config.grpcPort}`,
      ]);
      assert.deepEqual(instructions(final, 'ENTRYPOINT'), ['["node", "bin/mscr.js"]']);
      assert.deepEqual(instructions(final, 'CMD'), ['["serve"]']);
      const [healthcheck] = instructions(final, 'HEALTHCHECK');
      assert.match(healthcheck ?? '', /CMD \["node", "docker\/healthcheck.mjs"\]$/);
      const env = instructions(final, 'ENV').join(' ');
      assert.match(env, new RegExp(`MSCR_STORE=${values.store.uri}\\b`));
      assert.match(env, new RegExp(`MSCR_PORT=${values.config.port}\\b`));
      assert.match(env, new RegExp(`MSCR_GRPC_PORT=${values.config.grpcPort}\\b`));
      assert.match(
        readFileSync(join(root, 'docker', 'healthcheck.mjs'), 'utf8'),
        new RegExp(values.livenessProbe.httpGet.path),
      );
      // The final stage copies node_modules from a stage that installed production deps only.
      const copiedFrom = instructions(final, 'COPY')
        .filter((a) => a.includes('node_modules'))
        .map((a) => /--from=(\S+)/.exec(a)?.[1]);
      const depsStage = stages.find((s) => s.name === copiedFrom[0]);
      assert.ok(depsStage, 'node_modules comes from a named stage');
      assert.match(instructions(depsStage, 'RUN').join('\n'), /npm ci --omit=dev/);
      assert.doesNotMatch(instructions(depsStage, 'RUN').join('\n'), /npm ci (?!.*--omit=dev)/);
      if (file === 'Dockerfile') {
        assert.match(
          instructions(depsStage, 'RUN').join('\n'),
          /require\('@tensorflow\/tfjs-node'\)/,
        );
        // The stages start from build arguments (a build without a registry passes local
        // images); their defaults are the public node images.
        assert.equal(final.from, '${BASE_IMAGE}');
        assert.ok(stages.slice(0, -1).every((s) => s.from === '${BUILD_IMAGE}'));
        assert.match(text, /^ARG BASE_IMAGE=node:\$\{NODE_VERSION\}-bookworm-slim$/m);
        assert.match(text, /^ARG BUILD_IMAGE=node:\$\{NODE_VERSION\}-bookworm$/m);
        assert.match(text, /^ARG TFJS_NODE=required$/m);
      } else {
        assert.match(
          text,
          /@tensorflow\/tfjs-node@npm:@tensorflow\/tfjs-node-gpu@\$\{TFJS_VERSION\}/,
        );
        assert.match(text, /ARG CUDA_IMAGE=nvidia\/cuda:11\.8\.0-cudnn8-runtime-ubuntu22\.04/);
        assert.equal(final.from, '${CUDA_IMAGE}');
      }
    });

    test(`${file}: every file it copies from the build context exists and is not ignored`, () => {
      const stages = parseDockerfile(readFileSync(join(root, file), 'utf8'));
      const ignore = readFileSync(join(root, `${file}.dockerignore`), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('!'))
        .map((l) => l.slice(1).replace(/\/$/, ''));
      const sources = stages
        .flatMap((s) => instructions(s, 'COPY'))
        .filter((args) => !args.startsWith('--from='))
        .flatMap((args) => args.split(/\s+/).slice(0, -1));
      assert.ok(sources.length > 5);
      for (const source of sources) {
        assert.ok(existsSync(join(root, source)), `${source} exists`);
        assert.ok(
          ignore.some((kept) => source === kept || source.startsWith(`${kept}/`)),
          `${source} is kept by ${file}.dockerignore`,
        );
      }
    });
  }
});

describe('the image entrypoint, run outside the image', () => {
  let app: string;
  before(() => {
    // The image's /app: dist/ (what `npm run build` compiles), bin/, package.json,
    // docker/healthcheck.mjs, and node_modules holding the production dependencies only.
    app = mkdtempSync(join(tmpdir(), 'mscr-image-'));
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const build = run(process.execPath, [
      tsc,
      '-p',
      join(root, 'tsconfig.build.json'),
      '--outDir',
      join(app, 'dist'),
    ]);
    assert.equal(build.status, 0, `npm run build: ${build.stdout}${build.stderr}`);
    // The gRPC adapters load their .proto files from beside the compiled code, as `npm run build` copies them.
    cpSync(
      join(root, 'service', 'grpc', 'protos'),
      join(app, 'dist', 'service', 'grpc', 'protos'),
      {
        recursive: true,
      },
    );
    cpSync(join(root, 'bin'), join(app, 'bin'), { recursive: true });
    cpSync(join(root, 'package.json'), join(app, 'package.json'));
    mkdirSync(join(app, 'docker'));
    cpSync(join(root, 'docker', 'healthcheck.mjs'), join(app, 'docker', 'healthcheck.mjs'));
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    for (const [path, entry] of Object.entries(lock.packages)) {
      const name = path.slice('node_modules/'.length);
      if (!path.startsWith('node_modules/') || name.includes('node_modules/') || entry.dev)
        continue;
      if (!existsSync(join(root, path))) continue; // optional packages for other platforms
      mkdirSync(dirname(join(app, path)), { recursive: true });
      symlinkSync(join(root, path), join(app, path));
    }
    assert.equal(existsSync(join(app, 'node_modules', 'typescript')), false, 'no dev dependency');
    assert.equal(existsSync(join(app, 'node_modules', 'express')), true);
  });
  after(() => rmSync(app, { recursive: true, force: true }));

  test('`mscr --version` and `mscr serve --help` (the CMD) run from dist/', () => {
    const version = run(process.execPath, ['bin/mscr.js', '--version'], { cwd: app });
    assert.equal(version.status, 0, version.stderr);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    assert.equal(version.stdout.trim(), pkg.version);
    const help = run(process.execPath, ['bin/mscr.js', 'serve', '--help'], { cwd: app });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /MSCR_STORE/);
    assert.match(help.stdout, /--drain-timeout/);
  });

  test('`mscr retrain --help` (the CronJob command) accepts --model, --store, --data and --trigger', () => {
    const retrain = run(process.execPath, ['bin/mscr.js', 'retrain', '--help'], { cwd: app });
    assert.equal(retrain.status, 0, retrain.stderr);
    for (const flag of ['--model', '--store', '--data', '--trigger'])
      assert.ok(retrain.stdout.includes(flag), flag);
  });

  test('the CMD serves a published model, the HEALTHCHECK passes, SIGTERM exits 0', async () => {
    const port = await freePort();
    const store = join(app, 'models');
    mkdirSync(store, { recursive: true });
    await publishToyClassifier(openStore(`file://${store}`), 'toy', 1);
    const env = {
      ...process.env,
      MSCR_STORE: `file://${store}`,
      MSCR_HOST: '127.0.0.1',
      MSCR_PORT: String(port),
      MSCR_GRPC_PORT: String(await freePort()),
      MSCR_WORKERS: '1',
      MSCR_LOG_LEVEL: 'silent',
      MSCR_DRAIN_TIMEOUT: '5',
    };
    const down = run(process.execPath, ['docker/healthcheck.mjs'], { cwd: app, env });
    assert.equal(down.status, 1, 'the healthcheck fails while nothing listens');
    assert.match(down.stderr, new RegExp(`healthcheck: http://127.0.0.1:${port}/v2/health/live`));

    const server = spawn(process.execPath, ['bin/mscr.js', 'serve'], {
      cwd: app,
      env,
      stdio: 'pipe',
    });
    let output = '';
    server.stdout.on('data', (d: Buffer) => (output += d.toString()));
    server.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolveExit) => server.once('exit', resolveExit));
    try {
      const deadline = Date.now() + 60_000;
      let healthy = false;
      while (!healthy && Date.now() < deadline) {
        healthy = run(process.execPath, ['docker/healthcheck.mjs'], { cwd: app, env }).status === 0;
        if (!healthy) await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(healthy, `the HEALTHCHECK passes once the server is up:\n${output}`);
      const base = `http://127.0.0.1:${port}`;
      while ((await fetch(`${base}/v2/health/ready`)).status !== 200) {
        assert.ok(Date.now() < deadline, `ready once the toy model is loaded:\n${output}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const infer = await fetch(`${base}/v2/models/toy/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(toyInfer(2)),
      });
      assert.equal(infer.status, 200, await infer.clone().text());
      const body = (await infer.json()) as { outputs: { name: string; shape: number[] }[] };
      assert.deepEqual(body.outputs[0]?.shape, [2, 2]);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^# TYPE mscr_requests_in_flight gauge$/m);
    } finally {
      server.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
  });
});
