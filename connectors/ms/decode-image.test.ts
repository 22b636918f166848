import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { isMscrError } from '../errors.ts';
import { decodeImage, readImageSize } from './decode-image.ts';
import { sharedData } from '../../tests/shared-data.ts';

const jpegPath = sharedData('cifar10/images/cat_0003.jpg');

test('decodes a real CIFAR-10 JPEG to 32x32 HWC RGB, unchanged when no resize is needed', async () => {
  const bytes = readFileSync(jpegPath);
  assert.deepEqual(await readImageSize(bytes), { height: 32, width: 32 });
  const pixels = await decodeImage(bytes, { height: 32, width: 32, channels: 3 });
  assert.equal(pixels.length, 32 * 32 * 3);
  const reference = await sharp(bytes).raw().toBuffer();
  assert.deepEqual(Buffer.from(pixels), reference);
  const notResized = await decodeImage(bytes, {
    height: 32,
    width: 32,
    channels: 3,
    resize: false,
  });
  assert.deepEqual(notResized, pixels);
});

test('grey, resize and alpha removal', async () => {
  const bytes = readFileSync(jpegPath);
  const grey = await decodeImage(bytes, { height: 32, width: 32, channels: 1 });
  assert.equal(grey.length, 1024);
  const small = await decodeImage(bytes, { height: 8, width: 16, channels: 3 });
  assert.equal(small.length, 8 * 16 * 3);
  // A grey PNG decoded as RGB repeats the grey level in every channel.
  const greyPng = await sharp(Buffer.from(grey), { raw: { width: 32, height: 32, channels: 1 } })
    .png()
    .toBuffer();
  const rgb = await decodeImage(greyPng, { height: 32, width: 32, channels: 3 });
  for (let p = 0; p < 1024; p++) {
    assert.equal(rgb[p * 3], grey[p]);
    assert.equal(rgb[p * 3 + 2], grey[p]);
  }
  const rgba = await sharp(Buffer.alloc(4 * 4 * 4, 200), {
    raw: { width: 4, height: 4, channels: 4 },
  })
    .png()
    .toBuffer();
  assert.deepEqual(
    Array.from(await decodeImage(rgba, { height: 4, width: 4, channels: 3 })),
    new Array(48).fill(200),
  );
});

test('undecodable, truncated, oversized and mis-sized inputs are bad_data errors', async () => {
  const bytes = readFileSync(jpegPath);
  const target = { height: 32, width: 32, channels: 3 as const };
  await assert.rejects(
    decodeImage(new TextEncoder().encode('not an image'), { ...target, source: 'post.jpg' }),
    (error: unknown) =>
      isMscrError(error, 'bad_data') &&
      /post\.jpg: Input buffer contains unsupported image format/.test(error.message),
  );
  await assert.rejects(decodeImage(bytes.subarray(0, 300), target), /cannot decode image: .*JPEG/);
  await assert.rejects(decodeImage(new Uint8Array(0), target), /empty/);
  await assert.rejects(
    decodeImage(bytes, { ...target, maxInputPixels: 1000 }),
    /exceeds pixel limit/,
  );
  await assert.rejects(decodeImage(bytes, { ...target, height: 100_000 }), /target height 100000/);
  await assert.rejects(
    decodeImage(bytes, { ...target, width: 16, resize: false }),
    /is 32x32 .*expected 16x32/,
  );
});

// libvips shares one error buffer between threads: decoded at once, a truncated image's reason
// could carry other images' lines or lose its details ("...corrupt header:", 4 % of 1,200 here).
test('a truncated image decoded beside others: one line of reason, no dangling colon', async () => {
  const good = readFileSync(jpegPath);
  const truncated = good.subarray(0, 200);
  const target = { height: 32, width: 32, channels: 3 as const };
  const reasons: string[] = [];
  for (let round = 0; round < 100; round++) {
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        decodeImage(i % 2 === 1 ? truncated : good, { ...target, source: `part-${i}.jpg` }).catch(
          (error: Error) => void reasons.push(error.message),
        ),
      ),
    );
  }
  assert.equal(reasons.length, 400, 'every truncated image fails, every good one decodes');
  for (const reason of reasons) {
    assert.match(
      reason,
      /^cannot decode image part-\d\.jpg: Input buffer has corrupt header(: \S.*)?$/,
    );
    assert.ok(!reason.includes('\n'), `one line: ${JSON.stringify(reason)}`);
    assert.ok(!reason.endsWith(':'), `no dangling colon: ${JSON.stringify(reason)}`);
  }
});
