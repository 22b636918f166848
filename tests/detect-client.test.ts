/**
 * The Client layer on an object detector, against a real service on loopback serving the
 * hand-set TF.js grid detector (service/detect-fixtures.ts): the SDK's `detect()` and
 * `looksLikeDetector`, `mscr predict` printing a table of boxes (and `--json`), and
 * `mscr feedback --boxes` sending corrected boxes, by prediction id or with `--image`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createClient,
  isMscrClientError,
  looksLikeDetector,
  type DetectResponse,
} from '../client/index.ts';
import { EXIT } from '../cli/exit-codes.ts';
import { createFeedbackStore } from '../connectors/sr/feedback-store.ts';
import { createLocalObjectStore } from '../connectors/store/index.ts';
import { publishToyDetector, quartersPng } from '../service/detect-fixtures.ts';
import { tempStore, type TempStore } from '../service/reload/test-support.ts';
import type { Service } from '../service/server.ts';
import { publishToyImageClassifier, startService, waitUntil } from '../service/test-support.ts';
import { runMscr } from './run-mscr.ts';

describe('the client on an object detector', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  let dir: string;
  let imageFile: string;
  let image: Buffer;

  before(async () => {
    temp = await tempStore();
    await publishToyDetector(temp.store, 'shapes');
    await publishToyImageClassifier(temp.store, 'pets');
    ({ service, url } = await startService(temp.dir));
    await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
    dir = await mkdtemp(join(tmpdir(), 'mscr-detect-client-'));
    image = await quartersPng(80, 40, { topLeft: [255, 0, 0], bottomRight: [0, 255, 0] });
    imageFile = join(dir, 'shapes.png');
    await writeFile(imageFile, image);
  });
  after(async () => {
    await service?.stop();
    await temp?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('SDK: detect() with thresholds, looksLikeDetector from the metadata, errors as MscrClientError', async () => {
    const client = createClient({ baseUrl: url });
    assert.equal(looksLikeDetector(await client.modelMetadata('shapes')), true);
    assert.equal(looksLikeDetector(await client.modelMetadata('pets')), false);
    const answer = await client.detect('shapes', new Blob([image], { type: 'image/png' }));
    assert.deepEqual(answer.image, { width: 80, height: 40 });
    assert.deepEqual(answer.detections.map((d) => `${d.label} ${d.box.join(',')}`).sort(), [
      'circle 0,0,40,20',
      'square 40,20,40,20',
    ]);
    const one = await client.detect('shapes', image, { max: 1, threshold: 0.5, version: 1 });
    assert.equal(one.detections.length, 1);
    await assert.rejects(
      client.detect('shapes', image, { threshold: 3 }),
      (error) =>
        isMscrClientError(error) && error.httpStatus === 400 && /threshold/.test(error.message),
    );
    await assert.rejects(
      client.detect('pets', image),
      (error) => isMscrClientError(error) && error.httpStatus === 400,
    );
    await assert.rejects(client.detect('shapes', new Uint8Array(0)), /the image is empty/);
  });

  test('mscr predict on a detector prints a table of boxes; --json gives the answer', async () => {
    const table = await runMscr(['predict', '--url', url, '--model', 'shapes', imageFile]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(
      lines[0] ?? '',
      /^shapes\.png \(80x40\): 2 objects found by shapes v1; prediction id [0-9a-f-]{36}$/,
    );
    assert.match(lines[1] ?? '', /^LABEL\s+SCORE\s+X\s+Y\s+W\s+H$/);
    const rows = lines.slice(2).map((line) => line.trim().split(/\s+/));
    assert.deepEqual(rows.map((r) => [r[0], ...r.slice(3)]).sort(), [
      ['circle', '0', '0', '40', '20'],
      ['square', '40', '20', '40', '20'],
    ]);
    assert.match(lines[2] ?? '', /^\w+\s+99\.\d %/);

    const json = await runMscr([
      'predict',
      '--url',
      url,
      '--model',
      'shapes',
      '--threshold',
      '0.99999',
      '--json',
      imageFile,
    ]);
    assert.equal(json.code, 0, json.stderr);
    const [result] = JSON.parse(json.stdout) as { kind: string; response: DetectResponse }[];
    assert.equal(result?.kind, 'detect');
    assert.deepEqual(result?.response.detections, []);

    const bad = await runMscr([
      'predict',
      '--url',
      url,
      '--model',
      'shapes',
      '--threshold',
      '2',
      imageFile,
    ]);
    assert.equal(bad.code, EXIT.usage);
    assert.match(bad.stderr, /from 0 to 1/);
    // A classifier is still classified.
    const pets = await runMscr(['predict', '--url', url, '--model', 'pets', imageFile]);
    assert.equal(pets.code, 0, pets.stderr);
    assert.match(pets.stdout, /^FILE\s+MODEL\s+RANK\s+LABEL/);
  });

  test('mscr feedback --boxes: by prediction id, with --image, and a bad file refused', async () => {
    const client = createClient({ baseUrl: url });
    const answer = await client.detect('shapes', image);
    // A saved answer's detections work as the boxes file (extra fields are dropped).
    const boxesFile = join(dir, 'boxes.json');
    await writeFile(boxesFile, JSON.stringify({ detections: answer.detections.slice(0, 1) }));
    const sent = await runMscr([
      'feedback',
      '--url',
      url,
      '--model',
      'shapes',
      '--prediction-id',
      answer.id,
      '--boxes',
      boxesFile,
      '--json',
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    const feedbackId = (JSON.parse(sent.stdout) as { id: string }).id;
    const records = await createFeedbackStore(createLocalObjectStore(temp.dir)).list('shapes', {
      quarantined: false,
    });
    const stored = records.find((r) => r.id === feedbackId);
    assert.deepEqual(stored?.boxes, [
      { box: answer.detections[0]?.box, label: answer.detections[0]?.label },
    ]);

    const emptyFile = join(dir, 'none.json');
    await writeFile(emptyFile, '[]');
    const withImage = await runMscr([
      'feedback',
      '--url',
      url,
      '--model',
      'shapes',
      '--image',
      imageFile,
      '--boxes',
      emptyFile,
    ]);
    assert.equal(withImage.code, 0, withImage.stderr);
    assert.match(withImage.stdout, /0 boxes/);

    const outside = join(dir, 'outside.json');
    await writeFile(outside, JSON.stringify([{ box: [70, 30, 20, 20], label: 'circle' }]));
    const refused = await runMscr([
      'feedback',
      '--url',
      url,
      '--model',
      'shapes',
      '--image',
      imageFile,
      '--boxes',
      outside,
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /reaches outside the 80x40 image/);
    const notJson = join(dir, 'broken.json');
    await writeFile(notJson, '{"boxes": [');
    const broken = await runMscr([
      'feedback',
      '--url',
      url,
      '--model',
      'shapes',
      '--image',
      imageFile,
      '--boxes',
      notJson,
    ]);
    assert.equal(broken.code, EXIT.badData);
    assert.match(broken.stderr, /is not JSON/);
    const missing = await runMscr([
      'feedback',
      '--url',
      url,
      '--model',
      'shapes',
      '--prediction-id',
      answer.id,
      '--boxes',
      join(dir, 'no-such-file.json'),
    ]);
    assert.equal(missing.code, EXIT.notFound);
    assert.match(missing.stderr, /--boxes .*no-such-file\.json: cannot read it/);
    const both = await runMscr([
      'feedback',
      '--url',
      url,
      '--model',
      'shapes',
      '--prediction-id',
      answer.id,
      '--label',
      'circle',
      '--boxes',
      emptyFile,
    ]);
    assert.equal(both.code, EXIT.usage);
    assert.match(both.stderr, /exactly one of --label/);
  });
});
