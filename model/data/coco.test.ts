/** The COCO loader on good, malformed and hostile annotation files. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { loadCoco } from './coco.ts';
import { loadDetections } from './detection-folder.ts';

let root: string;
let png: Buffer;
let n = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mscr-coco-'));
  png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#336699' } })
    .png()
    .toBuffer();
});
after(() => rm(root, { recursive: true, force: true }));

const good = () => ({
  images: [
    { id: 1, file_name: 'a.png', width: 40, height: 30 },
    { id: 2, file_name: 'b.png', width: 40, height: 30 },
  ],
  annotations: [
    { id: 1, image_id: 1, category_id: 7, bbox: [1, 2, 10, 8], area: 80, iscrowd: 0 },
    { id: 2, image_id: 1, category_id: 9, bbox: [20, 5, 19.5, 25], area: 487.5, iscrowd: 0 },
    { id: 3, image_id: 2, category_id: 9, bbox: [0, 0, 40, 30], area: 1200, iscrowd: 1 },
  ],
  categories: [
    { id: 7, name: 'cat' },
    { id: 9, name: 'dog' },
  ],
});

/** A folder with images/a.png, images/b.png and the given JSON (or text); returns the JSON path. */
async function dataset(json: unknown, options: { images?: string[]; raw?: string } = {}) {
  const dir = join(root, `set${++n}`);
  await mkdir(join(dir, 'images'), { recursive: true });
  for (const name of options.images ?? ['a.png', 'b.png'])
    await writeFile(join(dir, 'images', name), png);
  const path = join(dir, 'annotations.json');
  await writeFile(path, options.raw ?? JSON.stringify(json));
  return path;
}

test('a COCO file: arbitrary category ids become class indices, boxes in pixels, crowd regions left out', async () => {
  const path = await dataset(good());
  const set = await loadCoco(path);
  assert.deepEqual(set.classNames, ['cat', 'dog']);
  assert.equal(set.images.length, 2);
  assert.deepEqual(set.images[0]?.objects, [
    { box: [1, 2, 10, 8], category: 0 },
    { box: [20, 5, 19.5, 25], category: 1 },
  ]);
  assert.deepEqual(set.images[1]?.objects, []);
  assert.match(set.sources[0] as string, /1 crowd regions left out/);
  // The folder form finds annotations.json itself; the same data gives the same fingerprint.
  assert.equal((await loadDetections([join(path, '..')])).fingerprint, set.fingerprint);
});

test('images beside the JSON (no images/ folder) are found too', async () => {
  const dir = join(root, 'flat');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'a.png'), png);
  const json = { ...good(), images: [good().images[0]], annotations: [good().annotations[0]] };
  await writeFile(join(dir, 'instances.json'), JSON.stringify(json));
  const set = await loadDetections([dir]);
  assert.equal(set.images.length, 1);
});

const cases: [string, (json: ReturnType<typeof good>) => unknown, RegExp][] = [
  ['not an object', () => [1, 2], /expected a JSON object/],
  ['no annotations array', (j) => ({ ...j, annotations: 'x' }), /"annotations" must be an array/],
  ['no categories', (j) => ({ ...j, categories: [] }), /there are no categories/],
  [
    'a category without a name',
    (j) => ({ ...j, categories: [{ id: 1 }] }),
    /categories\[0\] needs/,
  ],
  [
    'a category id twice',
    (j) => ({
      ...j,
      categories: [
        { id: 7, name: 'a' },
        { id: 7, name: 'b' },
      ],
    }),
    /category id 7 appears twice/,
  ],
  [
    'an unknown category',
    (j) => ({ ...j, annotations: [{ ...j.annotations[0], category_id: 3 }] }),
    /category_id 3 is not in "categories"/,
  ],
  [
    'an unknown image',
    (j) => ({ ...j, annotations: [{ ...j.annotations[0], image_id: 99 }] }),
    /image_id 99 is not in "images"/,
  ],
  [
    'a box outside the image',
    (j) => ({ ...j, annotations: [{ ...j.annotations[0], bbox: [35, 0, 10, 10] }] }),
    /lies outside the 40x30 image/,
  ],
  [
    'a negative box',
    (j) => ({ ...j, annotations: [{ ...j.annotations[0], bbox: [5, 5, -3, 4] }] }),
    /has no area/,
  ],
  [
    'a box of three numbers',
    (j) => ({ ...j, annotations: [{ ...j.annotations[0], bbox: [1, 2, 3] }] }),
    /four finite numbers/,
  ],
  [
    'a box with a string',
    (j) => ({ ...j, annotations: [{ ...j.annotations[0], bbox: [1, 2, '3', 4] }] }),
    /four finite numbers/,
  ],
  [
    'no bbox',
    (j) => ({ ...j, annotations: [{ id: 1, image_id: 1, category_id: 7 }] }),
    /needs a "bbox"/,
  ],
  [
    'an image id twice',
    (j) => ({ ...j, images: [j.images[0], j.images[0]] }),
    /image id 1 appears twice/,
  ],
  [
    'an image without a size',
    (j) => ({ ...j, images: [{ id: 1, file_name: 'a.png' }] }),
    /positive integer "width" and "height"/,
  ],
  [
    'a path leaving the folder',
    (j) => ({ ...j, images: [{ ...j.images[0], file_name: '../../etc/passwd' }] }),
    /leaves the data folder/,
  ],
  [
    'an absolute path',
    (j) => ({ ...j, images: [{ ...j.images[0], file_name: '/etc/passwd' }] }),
    /leaves the data folder/,
  ],
  [
    "a size that is not the file's",
    (j) => ({ ...j, images: [{ ...j.images[0], width: 64 }], annotations: [] }),
    /is 40x30, but the JSON says 64x30/,
  ],
];

for (const [what, make, message] of cases) {
  test(`COCO: ${what} is refused with a clear error`, async () => {
    const path = await dataset(make(good()));
    await assert.rejects(loadCoco(path), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'bad_data');
      assert.match(error.message, message);
      assert.ok(error.message.startsWith(path), error.message);
      return true;
    });
  });
}

test('COCO: a missing image file, broken JSON and an image that is not an image', async () => {
  const missing = await dataset(good(), { images: ['a.png'] });
  await assert.rejects(loadCoco(missing), /image b\.png is missing/);
  const broken = await dataset(undefined, { raw: '{"images": [' });
  await assert.rejects(loadCoco(broken), /is not valid JSON/);
  const dir = join(root, 'garbage');
  await mkdir(join(dir, 'images'), { recursive: true });
  await writeFile(join(dir, 'images', 'a.png'), 'not a png');
  await writeFile(
    join(dir, 'annotations.json'),
    JSON.stringify({ ...good(), images: [good().images[0]], annotations: [] }),
  );
  await assert.rejects(loadCoco(join(dir, 'annotations.json')), /cannot decode image a\.png/);
  await assert.rejects(loadDetections([join(root, 'nothing-here')]), /does not exist/);
});

test('many problems are reported together, the first five and a count', async () => {
  const json = good();
  json.annotations = Array.from({ length: 8 }, (_, i) => ({
    ...json.annotations[0],
    id: i,
    category_id: 100 + i,
  })) as typeof json.annotations;
  const path = await dataset(json);
  await assert.rejects(loadCoco(path), /category_id 104 .*; and 3 more$/);
});
