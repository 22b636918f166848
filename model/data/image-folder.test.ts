import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { isMscrError } from '../../connectors/errors.ts';
import { CIFAR10_CLASS_NAMES } from './cifar-binary.ts';
import { loadImageFolder } from './image-folder.ts';
import { sharedData } from '../../tests/shared-data.ts';

const cifar = sharedData('cifar10/');

describe('loadImageFolder on the real CIFAR-10 folders', () => {
  test('the 200 test images: classes, round-robin labels, pixels as sharp decodes them', async () => {
    const data = await loadImageFolder(cifar);
    assert.equal(data.kind, 'image');
    assert.equal(data.count, 200);
    assert.deepEqual([data.height, data.width, data.channels], [32, 32, 3]);
    assert.deepEqual(data.classNames, CIFAR10_CLASS_NAMES);
    assert.deepEqual(Array.from(data.labels.slice(0, 12)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    assert.equal(data.pixels.length, 200 * 3072);
    assert.match(data.fingerprint, /^[0-9a-f]{64}$/);
    assert.deepEqual(data.sources, [cifar.replace(/\/$/, '')]);
    // Row 4 of labels.csv is images/deer_0000.jpg (index 4 after the header).
    const deer = await sharp(join(cifar, 'images/deer_0000.jpg')).raw().toBuffer();
    assert.deepEqual(Buffer.from(data.pixels.subarray(4 * 3072, 5 * 3072)), deer);
  });

  // The load time is reported, not asserted: a test must not fail because a shared machine
  // was busy (speed belongs in the benchmarks).
  test('the 3000 training images (filenames relative to the parent folder)', async (t) => {
    const started = performance.now();
    const data = await loadImageFolder(pathToFileURL(join(cifar, 'train')).href);
    const ms = performance.now() - started;
    assert.equal(data.count, 3000);
    const perClass = new Array<number>(10).fill(0);
    data.labels.forEach((label) => (perClass[label] = (perClass[label] as number) + 1));
    assert.deepEqual(perClass, new Array(10).fill(300));
    t.diagnostic(`loaded 3000 training images in ${ms.toFixed(0)} ms`);
  });

  test('same data, same fingerprint; limit, grey and resize options', async () => {
    const a = await loadImageFolder(cifar, { limit: 20 });
    const b = await loadImageFolder(cifar, { limit: 20, concurrency: 1 });
    assert.equal(a.count, 20);
    assert.equal(a.fingerprint, b.fingerprint);
    assert.deepEqual(a.classNames, CIFAR10_CLASS_NAMES);
    const other = await loadImageFolder(cifar, { limit: 21 });
    assert.notEqual(other.fingerprint, a.fingerprint);
    const grey = await loadImageFolder(cifar, { limit: 3, channels: 1, height: 16, width: 24 });
    assert.deepEqual(
      [grey.height, grey.width, grey.channels, grey.pixels.length],
      [16, 24, 1, 3 * 16 * 24],
    );
  });
});

describe('loadImageFolder errors', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mscr-folder-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A folder with copies of real images and the given labels.csv text. */
  async function folder(
    name: string,
    labels: string,
    files: Record<string, string | Buffer> = {},
  ): Promise<string> {
    const path = join(dir, name);
    await mkdir(join(path, 'images'), { recursive: true });
    await copyFile(join(cifar, 'images/cat_0000.jpg'), join(path, 'images/cat.jpg'));
    await copyFile(join(cifar, 'images/dog_0000.jpg'), join(path, 'images/dog.jpg'));
    for (const [file, content] of Object.entries(files)) await writeFile(join(path, file), content);
    if (labels !== '') await writeFile(join(path, 'labels.csv'), labels);
    return path;
  }

  const header = 'filename,label_index,label_name\n';
  const code = (wanted: 'bad_data' | 'not_found', pattern: RegExp) => (error: unknown) =>
    isMscrError(error, wanted) && pattern.test(error.message);

  test('a good small folder loads, CRLF and all', async () => {
    const path = await folder(
      'good',
      header.replace('\n', '\r\n') + 'images/cat.jpg,0,cat\r\nimages/dog.jpg,1,dog\r\n',
    );
    const data = await loadImageFolder(path);
    assert.deepEqual(data.classNames, ['cat', 'dog']);
    assert.deepEqual(Array.from(data.labels), [0, 1]);
  });

  test('missing folder, missing labels.csv, wrong header', async () => {
    await assert.rejects(loadImageFolder(join(dir, 'nope')), code('not_found', /does not exist/));
    const noLabels = await folder('no-labels', '');
    await assert.rejects(loadImageFolder(noLabels), code('not_found', /has no labels\.csv/));
    const wrong = await folder('wrong-header', 'file,label\nimages/cat.jpg,0\n');
    await assert.rejects(
      loadImageFolder(wrong),
      code('bad_data', /labels\.csv:1: header is "file,label"/),
    );
  });

  test('bad rows name their line', async () => {
    const fields = await folder('fields', header + 'images/cat.jpg,0,cat\nimages/dog.jpg,1\n');
    await assert.rejects(
      loadImageFolder(fields),
      code('bad_data', /labels\.csv:3: 2 fields; expected 3/),
    );
    const label = await folder('label', header + 'images/cat.jpg,0,cat\nimages/dog.jpg,1.5,dog\n');
    await assert.rejects(
      loadImageFolder(label),
      code('bad_data', /labels\.csv:3: label_index "1\.5" is not a non-negative integer/),
    );
    const conflict = await folder(
      'conflict',
      header + 'images/cat.jpg,0,cat\nimages/dog.jpg,0,dog\n',
    );
    await assert.rejects(
      loadImageFolder(conflict),
      code('bad_data', /:3: class 0 is named "dog" here but "cat" on line 2/),
    );
    const gap = await folder('gap', header + 'images/cat.jpg,0,cat\nimages/dog.jpg,2,dog\n');
    await assert.rejects(loadImageFolder(gap), code('bad_data', /no row has label_index 1/));
    const escape = await folder('escape', header + '../good/images/cat.jpg,0,cat\n');
    await assert.rejects(
      loadImageFolder(escape),
      code('bad_data', /must be a relative path inside the folder/),
    );
  });

  test('a missing image and an undecodable image are named', async () => {
    const missing = await folder(
      'missing',
      header + 'images/cat.jpg,0,cat\nimages/bird.jpg,1,bird\n',
    );
    await assert.rejects(
      loadImageFolder(missing),
      code('not_found', /labels\.csv:3: image images\/bird\.jpg does not exist/),
    );
    const broken = await folder('broken', header + 'images/cat.jpg,0,cat\nimages/bad.jpg,1,bad\n', {
      'images/bad.jpg': (await readFile(join(cifar, 'images/dog_0000.jpg'))).subarray(0, 200),
    });
    await assert.rejects(
      loadImageFolder(broken),
      // The reason is libvips's; its details can be lost when images decode at once (see
      // decodeError), so only the file and that there is a reason are checked.
      code('bad_data', /cannot decode image .*images\/bad\.jpg: \S/),
    );
  });

  test('images of another size: an error unless a target size is given', async () => {
    const big = await sharp(join(cifar, 'images/dog_0000.jpg')).resize(40, 30).png().toBuffer();
    const path = await folder('sizes', header + 'images/cat.jpg,0,cat\nimages/big.png,1,dog\n', {
      'images/big.png': big,
    });
    await assert.rejects(
      loadImageFolder(path),
      code('bad_data', /big\.png is 40x30 .*expected 32x32 .*resizing is off/),
    );
    const resized = await loadImageFolder(path, { height: 32, width: 32 });
    assert.equal(resized.count, 2);
  });
});
