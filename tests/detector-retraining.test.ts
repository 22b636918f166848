/**
 * A detector from the command line to retraining with feedback, as a user runs it (child
 * processes of bin/mscr.js on a real local store): `mscr data generate detection` writes a
 * set, `mscr train --task object-detection` trains and publishes it, feedback records with
 * boxes (as the Service's feedback route stores them) are read by `mscr retrain`, which adds
 * the images to the training split and gates the candidate on `map` against the serving
 * version on the same held-out base images.
 */
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RetrainRun } from '../connectors/sr/index.ts';
import { createFeedbackStore } from '../connectors/sr/feedback-store.ts';
import { openObjectStore } from '../connectors/store/index.ts';
import { runMscr } from './run-mscr.ts';

let dir: string;
let uri: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mscr-detector-retrain-'));
  uri = `file://${join(dir, 'models')}`;
});
after(() => rm(dir, { recursive: true, force: true }));

describe('a detector: generate, train, feedback with boxes, retrain gated on map', () => {
  test('mscr data generate detection writes images and COCO JSON; bad flags are refused', async () => {
    const made = await runMscr([
      'data',
      'generate',
      'detection',
      '--out',
      join(dir, 'base'),
      '--count',
      '60',
      '--seed',
      '3',
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(
      made.stdout,
      /wrote 60 64x64 images with \d+ objects \(circle, square, triangle\)/,
    );
    const coco = JSON.parse(await readFile(join(dir, 'base', 'annotations.json'), 'utf8')) as {
      images: unknown[];
    };
    assert.equal(coco.images.length, 60);
    const again = await runMscr(['data', 'generate', 'detection', '--out', join(dir, 'base')]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /is not empty; choose another --out or pass --force/);
    for (const [args, message] of [
      [
        ['data', 'generate', 'boxes', '--out', join(dir, 'x')],
        /expected one of detection, shapes, prices/,
      ],
      [
        ['data', 'generate', 'detection', '--out', join(dir, 'x'), '--count', '0'],
        /expected a positive integer/,
      ],
      [
        ['data', 'generate', 'detection', '--out', join(dir, 'x'), '--size', '8'],
        /size must be an integer in 16\.\.1024/,
      ],
      [
        ['data', 'generate', 'detection', '--out', join(dir, 'x'), '--count', '1000001'],
        /--count is at most 100000/,
      ],
      [['data', 'generate', 'detection'], /required option '--out <dir>'/],
    ] as const) {
      const run = await runMscr([...args]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });

  test('mscr train --task object-detection publishes version 1 with its mAP table', async () => {
    const run = await runMscr([
      'train',
      '--model',
      'objects',
      '--task',
      'object-detection',
      '--data',
      join(dir, 'base'),
      '--store',
      uri,
      '--epochs',
      '1',
      '--quiet',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /mAP@0\.5:0\.95 \d\.\d{3}, mAP@0\.5 \d\.\d{3} on 12 held-out images/);
    assert.match(run.stdout, /CLASS\s+AP@0\.5\s+AP@0\.5:0\.95/);
    assert.match(run.stdout, /published objects version 1/);
    const wrong = await runMscr([
      'train',
      '--model',
      'objects',
      '--task',
      'object-detection',
      '--data',
      join(dir, 'nowhere'),
      '--store',
      uri,
    ]);
    assert.equal(wrong.code, 4, wrong.stderr);
    const notDetection = await runMscr([
      'train',
      '--model',
      'x',
      '--task',
      'boxes',
      '--data',
      join(dir, 'base'),
      '--store',
      uri,
    ]);
    assert.equal(notDetection.code, 2);
    assert.match(
      notDetection.stderr,
      /expected one of image-classification, series-forecast, object-detection/,
    );
  });

  test('mscr retrain reads feedback boxes, trains with them and gates on map on the base held-out images', async () => {
    const feedback = createFeedbackStore(openObjectStore(uri));
    const png = await readFile(join(dir, 'base', 'images', '000001.png'));
    const receivedAt = new Date().toISOString();
    for (const [id, boxes] of [
      ['fb-1', [{ box: [2, 3, 20, 20], label: 'square' }]],
      [
        'fb-2',
        [
          { box: [30, 30, 15, 12], label: 'circle' },
          { box: [1, 40, 10, 10], label: 'triangle' },
        ],
      ],
      ['fb-3', []],
    ] as const) {
      await feedback.append(
        {
          id,
          model: 'objects',
          receivedAt,
          boxes: boxes.map((b) => ({ box: [...b.box], label: b.label })),
          trust: 'token',
        },
        { kind: 'image', bytes: png, extension: 'png' },
      );
    }
    // Boxes without a stored image cannot be trained on: counted, not used.
    await feedback.append(
      { id: 'fb-4', model: 'objects', receivedAt, boxes: [], trust: 'token' },
      undefined,
    );
    const run = await runMscr([
      'retrain',
      '--model',
      'objects',
      '--data',
      join(dir, 'base'),
      '--store',
      uri,
      '--epochs',
      '1',
      '--min-held-out',
      '5',
      '--tolerance',
      '1',
      '--json',
      '--quiet',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const record = JSON.parse(run.stdout) as RetrainRun;
    assert.equal(record.inputs?.feedbackRecords, 4);
    assert.ok(record.inputs?.sources.includes('3 feedback images'), JSON.stringify(record.inputs));
    assert.equal(typeof record.candidate?.metrics.map, 'number');
    assert.equal(record.baseline?.version, 1);
    assert.equal(typeof record.baseline?.metrics.map, 'number');
    assert.match(record.message ?? '', /map \d/);
    assert.equal(record.outcome, 'published');
    assert.equal(record.published?.version, 2);
  });
});
