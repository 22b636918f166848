/**
 * `mscr serve --http-processes N`: real child processes of bin/mscr.js sharing one port
 * (node:cluster), a real model in a local store, answers over HTTP; SIGTERM drains them all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../connectors/store/index.ts';
import { publishToyClassifier, toyInfer } from '../service/test-support.ts';
import { freePort } from '../tests/loopback.ts';
import { MSCR_BIN, runMscr } from '../tests/run-mscr.ts';
import { httpProcessCount } from './http-processes.ts';

describe('httpProcessCount', () => {
  test('takes 1 to 64, default 1', () => {
    assert.equal(httpProcessCount(undefined), 1);
    assert.equal(httpProcessCount(''), 1);
    assert.equal(httpProcessCount('3'), 3);
    assert.equal(httpProcessCount('64'), 64);
  });
  for (const bad of ['0', '-1', '1.5', '65', 'two', '1e9', ' 2x']) {
    test(`refuses ${JSON.stringify(bad)} with a message naming the flag`, () => {
      assert.throws(
        () => httpProcessCount(bad),
        /--http-processes must be an integer from 1 to 64/,
      );
    });
  }
});

/** One request on a fresh connection (so the primary hands it to the next process). */
function fresh(
  url: string,
  method: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent: false,
        headers: { connection: 'close', ...(body ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Pids of the processes whose parent is `pid`. */
async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = await readFile(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      // Only the service processes: the primary may also have other children (tsx's
      // esbuild service comes and goes), which once made the count 3.
      const environ = await readFile(`/proc/${d}/environ`, 'utf8');
      if (environ.split('\0').some((entry) => entry.startsWith('MSCR_HTTP_PROCESS_INDEX=')))
        out.push(Number(d));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('mscr serve --http-processes 2', () => {
  let dir: string;
  let store: string;
  let child: ChildProcess;
  let url: string;
  let stderr = '';
  let grpcPort: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mscr-http-processes-'));
    store = `file://${join(dir, 'models')}`;
    await publishToyClassifier(openStore(store), 'toy', 1);
    grpcPort = await freePort();
    // A fixed gRPC port: only the first process may bind it, or the second would fail.
    child = spawn(
      process.execPath,
      [
        MSCR_BIN,
        'serve',
        '--store',
        store,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--grpc-port',
        String(grpcPort),
        '--http-processes',
        '2',
        '--workers',
        '1',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.setEncoding('utf8');
    const listening = new Promise<void>((resolve, reject) => {
      child.stderr?.on('data', (chunk: string) => {
        stderr += chunk;
        const lines = stderr.match(/mscr serving \S+ at (http:\/\/\S+)/g) ?? [];
        if (lines.length >= 2) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}:\n${stderr}`)));
    });
    await listening;
    const urls = [...stderr.matchAll(/mscr serving \S+ at (http:\/\/\S+)/g)].map((m) => m[1]);
    assert.equal(new Set(urls).size, 1, `both processes share one address: ${urls.join(', ')}`);
    url = urls[0] ?? '';
    const deadline = Date.now() + 60_000;
    let ready = 0;
    while (ready < 6 && Date.now() < deadline) {
      const r = await fresh(`${url}/v2/models/toy/ready`, 'GET');
      ready = r.status === 200 ? ready + 1 : 0;
      if (r.status !== 200) await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(ready, 6, 'every process answers ready');
  });

  after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  test('two processes answer on the one port, with the same predictions', async () => {
    // Each process counts only the batches it ran: after 13 requests on fresh connections
    // (handed out in turn), scrapes see two counts, neither holding all 13.
    const answers = new Set<string>();
    const sent = 13;
    for (let i = 0; i < sent; i++) {
      const r = await fresh(`${url}/v2/models/toy/infer`, 'POST', JSON.stringify(toyInfer(2)));
      assert.equal(r.status, 200, r.text);
      const body = JSON.parse(r.text) as { outputs: { data: number[] }[] };
      answers.add(JSON.stringify(body.outputs[0]?.data));
    }
    assert.equal(answers.size, 1, 'every process gives the same answer');
    const counts = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const metrics = await fresh(`${url}/metrics`, 'GET');
      const lines = metrics.text
        .split('\n')
        .filter((l) => l.startsWith('mscr_inference_batch_size_count{'));
      counts.add(lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0));
    }
    assert.equal(counts.size, 2, `scrapes saw batch counts ${[...counts].join(', ')}`);
    assert.ok(Math.min(...counts) >= 1, `a process ran no batch: ${[...counts].join(', ')}`);
    assert.ok(Math.max(...counts) < sent, `one process ran them all: ${[...counts].join(', ')}`);
  });

  test('bad input is still a 400 with {"error"} and the processes keep serving', async () => {
    const bad = await fresh(`${url}/v2/models/toy/infer`, 'POST', '{"inputs": [');
    assert.equal(bad.status, 400);
    assert.ok((JSON.parse(bad.text) as { error?: string }).error);
    const ok = await fresh(`${url}/v2/models/toy/infer`, 'POST', JSON.stringify(toyInfer(1)));
    assert.equal(ok.status, 200);
  });

  test('SIGTERM drains every process and exits 0', async () => {
    const pid = child.pid ?? 0;
    const workers = await childPids(pid);
    assert.equal(
      workers.length,
      2,
      `two service processes under the primary: ${workers.join(',')}`,
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.deepEqual(workers.filter(alive), [], 'no service process outlives the primary');
  });
});

test('a bad --http-processes exits non-zero with a message, before starting anything', async () => {
  const r = await runMscr(['serve', '--store', 'file:///nonexistent', '--http-processes', '0']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--http-processes must be an integer from 1 to 64/);
});

test('a bad --onnx-placement exits non-zero with a message, before starting anything', async () => {
  for (const args of [
    ['--onnx-placement', 'gpu'],
    ['--http-processes', '2', '--onnx-placement', 'Main'],
  ]) {
    const r = await runMscr(['serve', '--store', 'file:///nonexistent', ...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, /onnx placement must be workers or main/, args.join(' '));
  }
  const r = await runMscr(['serve', '--store', 'file:///nonexistent', '--onnx-spinning', 'yes']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /onnx spinning must be on or off/);
});
