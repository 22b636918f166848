/** The YOLO txt loader on good, malformed and hostile folders. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { loadDetections } from './detection-folder.ts';
import { loadYoloFolder, parseYamlNames } from './yolo-txt.ts';

let root: string;
let png: Buffer;
let n = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mscr-yolo-'));
  png = await sharp({ create: { width: 100, height: 50, channels: 3, background: '#225522' } })
    .png()
    .toBuffer();
});
after(() => rm(root, { recursive: true, force: true }));

/** Writes a folder from `files` (path -> text, or null for an image); returns it. */
async function folder(files: Record<string, string | null>): Promise<string> {
  const dir = join(root, `set${++n}`);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content ?? png);
  }
  return dir;
}

test('YOLO layout: normalised centre boxes become pixel boxes; an image without labels has no objects', async () => {
  const dir = await folder({
    'classes.txt': 'car\nperson\n',
    'images/one.png': null,
    'images/sub/two.png': null,
    'images/three.png': null,
    'labels/one.txt': '0 0.5 0.5 0.2 0.4\n1 0.1 0.2 0.2 0.4\n\n',
    'labels/sub/two.txt': '1 0.9 0.9 0.2 0.2\r\n',
  });
  const set = await loadDetections([dir]);
  assert.deepEqual(set.classNames, ['car', 'person']);
  const byName = Object.fromEntries(set.images.map((image) => [image.name, image.objects]));
  assert.deepEqual(byName['one.png'], [
    { box: [40, 15, 20, 20], category: 0 },
    { box: [0, 0, 20, 20], category: 1 },
  ]);
  const two = byName['sub/two.png']?.[0]?.box ?? [];
  assert.deepEqual(
    two.map((v) => Math.round(v * 1e9) / 1e9),
    [80, 40, 20, 10],
  );
  assert.deepEqual(byName['three.png'], []);
});

test('class names from data.yaml: a flow list, a block list, a map', async () => {
  assert.deepEqual(parseYamlNames('path: x\nnames: [a, "b c", \'d\']\nnc: 3\n', 'y'), [
    'a',
    'b c',
    'd',
  ]);
  assert.deepEqual(
    parseYamlNames('names:\n  - a\n  - b # note\nnc: 2\n', 'y').map((s) => s.replace(/ #.*/, '')),
    ['a', 'b'],
  );
  assert.deepEqual(parseYamlNames('names:\n  0: person\n  1: bicycle\ntrain: x\n', 'y'), [
    'person',
    'bicycle',
  ]);
  assert.throws(() => parseYamlNames('nc: 2\n', 'y'), /has no "names"/);
  assert.throws(() => parseYamlNames('names:\n  0: a\n  2: c\n', 'y'), /has no class 1/);
  assert.throws(() => parseYamlNames('names: [a, b\n', 'y'), /one line/);
  const dir = await folder({
    'data.yaml': 'names:\n  0: car\n  1: person\n',
    'images/one.png': null,
    'labels/one.txt': '1 0.5 0.5 1 1\n',
  });
  const set = await loadYoloFolder(dir);
  assert.deepEqual(set.classNames, ['car', 'person']);
  assert.deepEqual(set.images[0]?.objects, [{ box: [0, 0, 100, 50], category: 1 }]);
});

const cases: [string, Record<string, string | null>, RegExp][] = [
  [
    'no class names',
    { 'images/a.png': null, 'labels/a.txt': '0 0.5 0.5 0.1 0.1' },
    /not a detection set|needs classes\.txt/,
  ],
  [
    'a class index past the names',
    { 'classes.txt': 'a\n', 'images/a.png': null, 'labels/a.txt': '1 0.5 0.5 0.1 0.1' },
    /labels\/a\.txt:1: class "1" is not one of the 1 classes/,
  ],
  [
    'a negative class',
    { 'classes.txt': 'a\n', 'images/a.png': null, 'labels/a.txt': '-1 0.5 0.5 0.1 0.1' },
    /class "-1"/,
  ],
  [
    'four fields',
    { 'classes.txt': 'a\n', 'images/a.png': null, 'labels/a.txt': '0 0.5 0.5 0.1\n' },
    /labels\/a\.txt:1: expected "class cx cy w h"/,
  ],
  [
    'a word for a number',
    { 'classes.txt': 'a\n', 'images/a.png': null, 'labels/a.txt': '0 0.5 half 0.1 0.1' },
    /must be numbers/,
  ],
  [
    'NaN',
    { 'classes.txt': 'a\n', 'images/a.png': null, 'labels/a.txt': '0 NaN 0.5 0.1 0.1' },
    /must be numbers/,
  ],
  [
    'pixel values instead of fractions',
    { 'classes.txt': 'a\n', 'images/a.png': null, 'labels/a.txt': '0 50 25 20 10' },
    /lies outside the image \(values are fractions/,
  ],
  [
    'a box off the edge',
    { 'classes.txt': 'a\n', 'images/a.png': null, 'labels/a.txt': '0 0.95 0.5 0.2 0.2' },
    /lies outside the image/,
  ],
  [
    'a box without area',
    { 'classes.txt': 'a\n', 'images/a.png': null, 'labels/a.txt': '0 0.5 0.5 0 0.2' },
    /has no area/,
  ],
  [
    'a label file without its image',
    { 'classes.txt': 'a\n', 'images/a.png': null, 'labels/b.txt': '0 0.5 0.5 0.1 0.1' },
    /labels\/b\.txt has no image in images\/ \(missing image\)/,
  ],
  [
    'no images',
    { 'classes.txt': 'a\n', 'images/readme.md': 'x', 'labels/a.txt': '' },
    /has no image|holds no images/,
  ],
  [
    'a class named twice',
    { 'classes.txt': 'a\na\n', 'images/a.png': null },
    /class "a" appears twice/,
  ],
  [
    'an image that is not one',
    { 'classes.txt': 'a\n', 'images/a.png': 'GIF89a garbage', 'labels/a.txt': '' },
    /cannot decode image images\/a\.png/,
  ],
];

for (const [what, files, message] of cases) {
  test(`YOLO: ${what} is refused with a clear error`, async () => {
    const dir = await folder(files);
    await assert.rejects(loadDetections([dir]), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'bad_data');
      assert.match(error.message, message);
      return true;
    });
  });
}

test('two sources with the same classes are joined; different classes are refused', async () => {
  const a = await folder({
    'classes.txt': 'a\nb\n',
    'images/x.png': null,
    'labels/x.txt': '0 0.5 0.5 0.2 0.2',
  });
  const b = await folder({ 'classes.txt': 'a\nb\n', 'images/y.png': null });
  const c = await folder({ 'classes.txt': 'b\na\n', 'images/y.png': null });
  assert.equal((await loadDetections([a, b])).images.length, 2);
  await assert.rejects(loadDetections([a, c]), /has classes b,a, but .* has a,b/);
});
