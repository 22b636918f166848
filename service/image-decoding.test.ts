/**
 * Image decoding is bounded (issue 15, item 5), against a real service on loopback with a
 * real 8x8 image classifier: only JPEG, PNG and WebP by default (SVG, AVIF, GIF, TIFF and
 * unknown bytes refused by their magic bytes before any decoder runs: 415 as a body, 400
 * inside JSON), more by configuration; a pixel cap derived from the model's input size; at
 * most N images per V1 request; a bounded number of decodes at once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { tempStore, type TempStore } from './reload/test-support.ts';
import { Semaphore, sniffImageFormat } from './protocols/image-policy.ts';
import { postJson, publishToyImageClassifier, startService, waitUntil } from './test-support.ts';
import type { Service } from './server.ts';

function solid(width: number, height: number) {
  return sharp({ create: { width, height, channels: 3, background: '#3366cc' } });
}

const SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>';

/** Every kind of bytes the default policy must refuse, with a name for messages. */
async function refused(): Promise<{ name: string; bytes: Buffer }[]> {
  return [
    { name: 'SVG', bytes: Buffer.from(SVG) },
    { name: 'SVG after an XML declaration', bytes: Buffer.from(`<?xml version="1.0"?>\n${SVG}`) },
    { name: 'SVG after a BOM and blanks', bytes: Buffer.from(`\ufeff  \n${SVG}`) },
    { name: 'AVIF', bytes: await solid(8, 8).avif().toBuffer() },
    { name: 'GIF', bytes: await solid(8, 8).gif().toBuffer() },
    { name: 'TIFF', bytes: await solid(8, 8).tiff().toBuffer() },
    { name: 'plain text', bytes: Buffer.from('hello, this is not an image') },
    { name: 'a PDF', bytes: Buffer.from('%PDF-1.4\n%âãÏÓ\n') },
    { name: 'a PNG signature alone, truncated', bytes: Buffer.from('\x89PNG\r\n', 'latin1') },
  ];
}

async function classify(url: string, bytes: Buffer, type = 'application/octet-stream') {
  const response = await fetch(`${url}/mscr/models/pets/classify`, {
    method: 'POST',
    headers: { 'content-type': type },
    body: bytes,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function started(overrides: Record<string, string> = {}) {
  const temp = await tempStore();
  await publishToyImageClassifier(temp.store, 'pets');
  const { service, url } = await startService(temp.dir, overrides);
  await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
  return { temp, service, url };
}

describe('image formats, by default', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  before(async () => {
    ({ temp, service, url } = await started());
  });
  after(async () => {
    await service.stop();
    await temp.cleanup();
  });

  test('JPEG, PNG and WebP are classified', async () => {
    for (const bytes of [
      await solid(8, 8).jpeg().toBuffer(),
      await solid(20, 12).png().toBuffer(),
      await solid(8, 8).webp().toBuffer(),
    ]) {
      const answer = await classify(url, bytes);
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
    }
  });

  test('everything else is refused before decoding: 415 as a body (raw or multipart), 400 as V1 b64 or feedback', async () => {
    for (const { name, bytes } of await refused()) {
      const raw = await classify(url, bytes);
      assert.equal(raw.status, 415, `${name} raw: ${JSON.stringify(raw.json)}`);
      assert.match(String(raw.json.error), /this server decodes jpeg, png, webp/, name);
      const form = new FormData();
      form.append('image', new Blob([bytes]), 'x.bin');
      const multipart = await fetch(`${url}/mscr/models/pets/classify`, {
        method: 'POST',
        body: form,
      });
      assert.equal(multipart.status, 415, `${name} multipart`);
      const v1 = await postJson(`${url}/v1/models/pets:predict`, {
        instances: [{ b64: bytes.toString('base64') }],
      });
      assert.equal(v1.status, 400, `${name} V1: ${JSON.stringify(v1.json)}`);
      assert.match(String(v1.json.error), /instances\[0\] is .*this server decodes/, name);
      const feedback = await postJson(`${url}/mscr/models/pets/feedback`, {
        input: { image_b64: bytes.toString('base64') },
        label: 'cat',
      });
      assert.equal(feedback.status, 400, `${name} feedback: ${JSON.stringify(feedback.json)}`);
    }
    // Still serving.
    assert.equal((await classify(url, await solid(8, 8).png().toBuffer())).status, 200);
  });

  test('the pixel cap follows the model: an 8x8 model takes up to 4 MP; a bigger image is a 400 from its header alone', async () => {
    const fits = await solid(2000, 2000).png().toBuffer();
    assert.equal((await classify(url, fits)).status, 200);
    for (const [width, height] of [
      [2100, 2100],
      [65_000, 70],
      [70, 65_000],
    ] as const) {
      const big = await solid(width, height).png({ compressionLevel: 9 }).toBuffer();
      const answer = await classify(url, big);
      assert.equal(answer.status, 400, `${width}x${height}`);
      assert.match(String(answer.json.error), /exceeds pixel limit.*at most 4194304 pixels/);
    }
  });

  test('at most 16 images in one V1 request, counted before any is decoded', async () => {
    const b64 = (await solid(8, 8).jpeg().toBuffer()).toString('base64');
    const sixteen = await postJson(`${url}/v1/models/pets:predict`, {
      instances: new Array(16).fill({ b64 }),
    });
    assert.equal(sixteen.status, 200, JSON.stringify(sixteen.json));
    for (const body of [
      { instances: new Array(17).fill({ b64 }) },
      { inputs: new Array(17).fill({ b64 }) },
      { instances: new Array(17).fill({ image: { b64 } }) },
      // The 17th is no image at all: refused by count, not by a decode error.
      { instances: [...new Array(16).fill({ b64 }), { b64: 'bm90IGFuIGltYWdl' }] },
    ]) {
      const answer = await postJson(`${url}/v1/models/pets:predict`, body);
      assert.equal(answer.status, 400);
      assert.match(String(answer.json.error), /more than 16 \{"b64"\} images/);
    }
  });
});

describe('image formats by configuration', () => {
  test('MSCR_IMAGE_FORMATS=jpeg,png,webp,gif,avif takes GIF and AVIF, still never SVG or TIFF', async () => {
    const { temp, service, url } = await started({ imageFormats: 'jpeg,png,webp,gif,avif' });
    try {
      assert.equal((await classify(url, await solid(8, 8).gif().toBuffer())).status, 200);
      assert.equal((await classify(url, await solid(8, 8).avif().toBuffer())).status, 200);
      assert.equal((await classify(url, Buffer.from(SVG))).status, 415);
      assert.equal((await classify(url, await solid(8, 8).tiff().toBuffer())).status, 415);
    } finally {
      await service.stop();
      await temp.cleanup();
    }
  });

  test('a fixed pixel cap and one decode at a time: parallel requests all answered', async () => {
    const { temp, service, url } = await started({
      maxImagePixels: '10000',
      decodeConcurrency: '1',
    });
    try {
      const small = await solid(100, 100).png().toBuffer();
      const answers = await Promise.all(Array.from({ length: 12 }, () => classify(url, small)));
      assert.deepEqual(
        answers.map((a) => a.status),
        new Array(12).fill(200),
      );
      const over = await classify(url, await solid(101, 100).png().toBuffer());
      assert.equal(over.status, 400);
    } finally {
      await service.stop();
      await temp.cleanup();
    }
  });

  test('MSCR_IMAGE_FORMATS with svg or an unknown name stops the start with a message', async () => {
    const temp = await tempStore();
    try {
      for (const formats of ['jpeg,svg', 'bmp', '']) {
        await assert.rejects(startService(temp.dir, { imageFormats: formats }), (error: unknown) =>
          /image formats must be a comma-separated list/.test(String(error)),
        );
      }
    } finally {
      await temp.cleanup();
    }
  });
});

describe('the decode semaphore', () => {
  test('never more than its limit at once; past its queue, a 503', async () => {
    const slots = new Semaphore(2, 3);
    let active = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const work = () =>
      slots.run(async () => {
        active++;
        most = Math.max(most, active);
        await new Promise<void>((resolve) => releases.push(resolve));
        active--;
      });
    const running = Array.from({ length: 5 }, work);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(slots.active, 2);
    assert.equal(slots.waiting, 3);
    await assert.rejects(work(), (error: unknown) => /retry shortly/.test(String(error)));
    while (releases.length > 0 || active > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(running);
    assert.equal(most, 2);
    assert.equal(slots.active, 0);
  });

  test('sniffing knows the formats by their first bytes', async () => {
    assert.equal(sniffImageFormat(await solid(8, 8).jpeg().toBuffer()), 'jpeg');
    assert.equal(sniffImageFormat(await solid(8, 8).png().toBuffer()), 'png');
    assert.equal(sniffImageFormat(await solid(8, 8).webp().toBuffer()), 'webp');
    assert.equal(sniffImageFormat(await solid(8, 8).avif().toBuffer()), 'avif');
    assert.equal(sniffImageFormat(Buffer.from(SVG)), 'svg');
    assert.equal(sniffImageFormat(new Uint8Array(0)), undefined);
  });
});
