/**
 * The `mscr` executable as users run it: a real child process of bin/mscr.js, real files,
 * real exit codes and messages.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedData } from '../tests/shared-data.ts';
import { MSCR_BIN, runMscr, type MscrRun } from '../tests/run-mscr.ts';
import { EXIT } from './exit-codes.ts';

const mscr = (args: string[], cwd?: string): Promise<MscrRun> =>
  runMscr(args, cwd === undefined ? {} : { cwd });

let dir: string;
let store: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mscr-cli-'));
  store = `file://${join(dir, 'models')}`;
});
after(() => rm(dir, { recursive: true, force: true }));

describe('help', () => {
  test('mscr --help lists the commands', async () => {
    const r = await mscr(['--help']);
    assert.equal(r.code, 0);
    for (const command of ['train', 'evaluate', 'models', 'quickstart'])
      assert.match(r.stdout, new RegExp(command));
  });

  for (const command of [
    ['train'],
    ['evaluate'],
    ['quickstart'],
    ['serve'],
    ['models'],
    ['models', 'list'],
    ['models', 'show'],
    ['models', 'promote'],
    ['models', 'rollback'],
    ['models', 'gc'],
  ]) {
    test(`mscr ${command.join(' ')} --help`, async () => {
      const r = await mscr([...command, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Usage: mscr/);
    });
  }

  test('train --help lists the architectures', async () => {
    const r = await mscr(['train', '--help']);
    for (const arch of ['cifar10-cnn', 'densenet', 'stock-lstm', 'linear'])
      assert.match(r.stdout, new RegExp(arch));
  });
});

describe('train and evaluate on real data', () => {
  test('train publishes version 1 then 2; evaluate scores the latest well above chance on the 200 test images', async () => {
    const train = [
      'train',
      '--model',
      'cifar10-cnn',
      '--data',
      sharedData('cifar10/train'),
      '--store',
      store,
      '--quiet',
    ];
    const first = await mscr([...train, '--epochs', '5', '--limit', '1500']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /published cifar10-cnn version 1/);
    assert.match(first.stdout, /confusion matrix/);

    const second = await mscr([...train, '--epochs', '1', '--limit', '100', '--json']);
    assert.equal(second.code, 0, second.stderr);
    const published = JSON.parse(second.stdout) as {
      manifest: { version: number; files: Record<string, unknown> };
    };
    assert.equal(published.manifest.version, 2);
    assert.ok(published.manifest.files['model.json']);

    const evaluation = await mscr([
      'evaluate',
      '--store',
      store,
      '--model',
      'cifar10-cnn',
      '--version',
      '1',
      '--data',
      sharedData('cifar10'),
      '--json',
    ]);
    assert.equal(evaluation.code, 0, evaluation.stderr);
    const report = JSON.parse(evaluation.stdout) as {
      version: number;
      metrics: { accuracy: number };
      report: { samples: number; confusion: number[][] };
    };
    assert.equal(report.version, 1);
    assert.equal(report.report.samples, 200);
    // Chance is 10 %; five epochs on 1,200 real images give about 30 % (three gave 0.195 once).
    assert.ok(
      report.metrics.accuracy >= 0.2,
      `accuracy ${report.metrics.accuracy} is not well above chance`,
    );

    const text = await mscr([
      'evaluate',
      '--store',
      store,
      '--model',
      'cifar10-cnn',
      '--data',
      sharedData('cifar10'),
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /cifar10-cnn version 2/);
    assert.match(text.stdout, /accuracy [\d.]+ % on 200 samples/);
    assert.match(text.stdout, /confusion matrix/);
  });

  test('the stock model prints its RMSE beside the naive forecast', async () => {
    const r = await mscr([
      'train',
      '--model',
      'stock-lstm',
      '--data',
      sharedData('stock/goog_daily.csv'),
      '--store',
      store,
      '--epochs',
      '5',
      '--quiet',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /model\s+[\d.]+\s+[\d.]+/);
    assert.match(r.stdout, /naive \(tomorrow = today\)\s+[\d.]+/);
    assert.match(r.stdout, /published stock-lstm version 1/);
  });

  test('models list, show, promote and rollback', async () => {
    const list = await mscr(['models', 'list', '--store', store, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout) as { model: string; versions: number[] }[];
    assert.deepEqual(rows.find((r) => r.model === 'cifar10-cnn')?.versions, [1, 2]);

    assert.equal((await mscr(['models', 'promote', 'cifar10-cnn', '1', '--store', store])).code, 0);
    const promoted = await mscr(['models', 'promote', 'cifar10-cnn', '2', '--store', store]);
    assert.match(promoted.stdout, /stable -> 2 \(was 1\)/);
    const rolled = await mscr(['models', 'rollback', 'cifar10-cnn', '--store', store]);
    assert.equal(rolled.code, 0, rolled.stderr);
    assert.match(rolled.stdout, /stable -> 1 \(was 2\)/);

    const show = await mscr(['models', 'show', 'cifar10-cnn', '--store', store, '--verify']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /1\s+ready\s+stable/);
    const manifest = await mscr(['models', 'show', 'cifar10-cnn', 'stable', '--store', store]);
    assert.equal((JSON.parse(manifest.stdout) as { version: number }).version, 1);
  });
});

describe('bad input gets a clear message and a non-zero exit', () => {
  const cases: { name: string; args: () => string[]; code: number; message: RegExp }[] = [
    {
      name: 'no --data',
      args: () => ['train', '--model', 'cifar10-cnn'],
      code: EXIT.usage,
      message: /required option '--data/,
    },
    {
      name: 'a non-numeric --epochs',
      args: () => ['train', '--model', 'cifar10-cnn', '--data', 'x', '--epochs', 'ten'],
      code: EXIT.usage,
      message: /expected a positive integer, got "ten"/,
    },
    {
      name: 'an unknown architecture',
      args: () => ['train', '--model', 'resnet', '--data', 'x', '--store', store],
      code: EXIT.usage,
      message: /unknown architecture "resnet"; choose one of/,
    },
    {
      name: 'a hostile model name',
      args: () => [
        'train',
        '--model',
        '../../etc',
        '--arch',
        'linear',
        '--data',
        'x',
        '--store',
        store,
      ],
      code: EXIT.usage,
      message: /invalid model name/,
    },
    {
      name: 'a missing data folder',
      args: () => [
        'train',
        '--model',
        'cifar10-cnn',
        '--data',
        join(dir, 'nowhere'),
        '--store',
        store,
      ],
      code: EXIT.notFound,
      message: /nowhere/,
    },
    {
      name: 'a malformed gc age',
      args: () => ['models', 'gc', '--store', store, '--older-than', 'yesterday'],
      code: EXIT.usage,
      message: /expected a duration such as 90s, 30m, 2h or 7d, got "yesterday"/,
    },
    {
      name: 'an S3 store URI that cannot be a bucket',
      args: () => ['models', 'list', '--store', 's3://no such bucket/models'],
      code: EXIT.usage,
      message: /invalid S3 store URI "s3:\/\/no such bucket\/models"/,
    },
    {
      name: 'an unsupported store scheme',
      args: () => ['models', 'list', '--store', 'ftp://x/y'],
      code: EXIT.usage,
      message: /ftp/,
    },
    {
      name: 'evaluating a model the store lacks',
      args: () => [
        'evaluate',
        '--model',
        'ghost',
        '--data',
        sharedData('cifar10'),
        '--store',
        store,
      ],
      code: EXIT.notFound,
      message: /ghost/,
    },
    {
      name: 'a bad serve port',
      args: () => ['serve', '--port', 'http', '--store', store],
      code: EXIT.usage,
      message: /port must be an integer from 0 to 65535, got "http"/,
    },
    {
      name: 'a bad serve policy',
      args: () => ['serve', '--policy', 'newest', '--store', store],
      code: EXIT.usage,
      message: /policy must be latest/,
    },
    {
      name: 'an unknown command',
      args: () => ['fly'],
      code: EXIT.usage,
      message: /unknown command 'fly'/,
    },
    {
      name: 'a bad --image-size',
      args: () => ['train', '--model', 'cifar10-cnn', '--data', 'x', '--image-size', '0x-1'],
      code: EXIT.usage,
      message: /HEIGHTxWIDTH/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await mscr(c.args());
      assert.equal(r.code, c.code, `exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, c.message);
    });
  }

  test('a CSV with a non-numeric cell names its line', async () => {
    const csv = join(dir, 'broken.csv');
    await writeFile(
      csv,
      '# Open,High,Low,Volume,Close\r\n1,2,3,4,5\r\n1,2,3,4,5\r\n1,2,3,4,oops\r\n',
    );
    const r = await mscr([
      'train',
      '--model',
      'broken',
      '--arch',
      'linear',
      '--data',
      csv,
      '--store',
      store,
    ]);
    assert.equal(r.code, EXIT.badData);
    assert.match(r.stderr, /broken\.csv:4: column Close \(field 5\): "oops" is not a number/);
  });

  test('an undecodable image names the file', async () => {
    const folder = join(dir, 'bad-images');
    await mkdir(folder, { recursive: true });
    await writeFile(
      join(folder, 'labels.csv'),
      'filename,label_index,label_name\na.png,0,cat\nb.png,1,dog\n',
    );
    await writeFile(join(folder, 'a.png'), 'this is not a png');
    await writeFile(join(folder, 'b.png'), 'nor this');
    const r = await mscr(['train', '--model', 'cifar10-cnn', '--data', folder, '--store', store]);
    assert.equal(r.code, EXIT.badData, r.stderr);
    assert.match(r.stderr, /a\.png/);
  });
});

test('quickstart (npm start) trains the demo models on generated data, serves them and prints curl lines', async () => {
  const cwd = await mkdtemp(join(tmpdir(), 'mscr-quickstart-'));
  const child = spawn(
    process.execPath,
    [MSCR_BIN, 'quickstart', '--port', '0', '--epochs', '2', '--detector-epochs', '1'],
    {
      cwd,
      env: { ...process.env, MSCR_BACKEND: 'wasm', MSCR_STORE: '', MSCR_LOG_LEVEL: 'warn' },
    },
  );
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.resume();
  try {
    // Three demo models train first (the detector 1 epoch): generous on a busy 2-core machine.
    const deadline = Date.now() + 300_000;
    while (!/Try:/.test(stdout)) {
      // A child killed by a signal has no exit code, only a signal code.
      if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null)
        assert.fail(
          `quickstart did not start serving (exit ${child.exitCode}, signal ${child.signalCode}):\n${stdout}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const url = /at (http:\/\/\S+) /.exec(stdout)?.[1] as string;
    assert.match(stdout, /published shapes version 1/);
    assert.match(stdout, /published prices version 1/);
    assert.match(stdout, /published objects version 1/);
    assert.match(
      stdout,
      /curl --data-binary @\S+000001\.png '\S+\/mscr\/models\/objects\/detect\?threshold=0\.5'/,
    );
    assert.match(stdout, /curl --data-binary @\S+\.png \S+\/mscr\/models\/shapes\/classify/);
    let ready = 0;
    while (ready !== 200 && Date.now() < deadline) {
      ready = (await fetch(`${url}/v2/health/ready`)).status;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(ready, 200);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
    await rm(cwd, { recursive: true, force: true });
  }
});
