/**
 * The web page on an object detector, in real headless Chromium (as tests/client-web.test.ts),
 * served by a real Service with the hand-set TF.js grid detector (service/detect-fixtures.ts):
 * upload an image, the page draws it on a canvas with each box in its class colour and lists
 * the boxes; the feedback form is filled with the boxes as JSON and sends them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { publishToyDetector, quartersPng } from '../service/detect-fixtures.ts';
import { tempStore, type TempStore } from '../service/reload/test-support.ts';
import type { Service } from '../service/server.ts';
import { startService, waitUntil } from '../service/test-support.ts';
import { WEB_ROOT } from './client-fixtures.ts';

// The callbacks given to page.$eval run in the browser; the project's tsconfig has no DOM
// library, so this is the one shape they touch.
interface Canvas2d {
  width: number;
  height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
  };
}

const CHROMIUM = process.env.MSCR_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOTS = resolve(import.meta.dirname, '../results/screenshots');
const missingBrowser = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} is missing: run node scripts/setup-browser.mjs, or set MSCR_CHROMIUM`;
if (missingBrowser && process.env.CI) {
  test('Chromium is installed for the detector page test', () => {
    assert.fail(`CI is set and the browser test cannot run: ${missingBrowser}`);
  });
}
const skip = missingBrowser && !process.env.CI ? missingBrowser : false;

/** The page's colours of classes 0 and 1 (client/web/src/detect.ts, which is browser code). */
const CLASS_COLOURS = ['#e6194b', '#3cb44b'];

function hex(rgb: ArrayLike<number>): string {
  return `#${Array.from(rgb)
    .slice(0, 3)
    .map((v) => v.toString(16).padStart(2, '0'))
    .join('')}`;
}

describe('the web page on an object detector', { skip }, () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  let browser: Browser;
  let dir: string;

  before(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    temp = await tempStore();
    await publishToyDetector(temp.store, 'shapes');
    ({ service, url } = await startService(temp.dir, {}, { webRoot: WEB_ROOT }));
    await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
    dir = await mkdtemp(join(tmpdir(), 'mscr-detect-web-'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  });
  after(async () => {
    await browser?.close();
    await service?.stop();
    await temp?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('upload an image: boxes drawn on a canvas in class colours, listed, and sent back as feedback', async () => {
    const file = join(dir, 'shapes.png');
    await writeFile(
      file,
      await quartersPng(320, 160, { topLeft: [255, 0, 0], bottomRight: [0, 255, 0] }),
    );
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.setDefaultTimeout(30_000);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${url}/`);
    await page.waitForSelector('body[data-loaded="true"]');
    await page.waitForFunction(() => {
      const heading = (
        globalThis as unknown as {
          document: { getElementById(id: string): { textContent: string } | null };
        }
      ).document.getElementById('classify-heading');
      return heading?.textContent === 'Find objects in an image';
    });
    assert.match((await page.textContent('#model-info')) ?? '', /shapes is an object detector/);
    await page.setInputFiles('#image-input', file);
    await page.waitForSelector('#detect-count');
    assert.equal(await page.textContent('#detect-count'), '2 objects');
    assert.ok(await page.isVisible('#detect-canvas'));
    assert.equal(await page.getAttribute('#detect-canvas', 'data-boxes'), '2');
    const items = await page.$$eval('#classify-result .detections li', (li) =>
      li.map((item) => (item as unknown as { textContent: string }).textContent),
    );
    assert.deepEqual(items.map((t) => t.replace(/ \d+\.\d %/, '')).sort(), [
      'circle at x 0, y 0, 160×80',
      'square at x 160, y 80, 160×80',
    ]);
    // The canvas is the image's size; the box edges are drawn in the class colours.
    const pixels = await page.$eval('#detect-canvas', (element) => {
      const canvas = element as unknown as Canvas2d;
      const context = canvas.getContext('2d');
      return {
        size: [canvas.width, canvas.height],
        // The left edge of the circle's box, under its label; the square's right edge.
        circle: Array.from(context.getImageData(1, 60, 1, 1).data),
        square: Array.from(context.getImageData(319, 120, 1, 1).data),
        inside: Array.from(context.getImageData(80, 40, 1, 1).data),
      };
    });
    assert.deepEqual(pixels.size, [320, 160]);
    assert.equal(hex(pixels.circle), CLASS_COLOURS[0]);
    assert.equal(hex(pixels.square), CLASS_COLOURS[1]);
    assert.equal(hex(pixels.inside), '#ff0000', 'the image itself inside the box');
    // Feedback: the form holds the boxes as JSON; correct one label and send.
    const boxes = JSON.parse(await page.inputValue('#feedback-boxes')) as { label: string }[];
    assert.equal(boxes.length, 2);
    boxes[0] = { ...boxes[0], label: boxes[0]?.label === 'circle' ? 'square' : 'circle' } as {
      label: string;
    };
    await page.fill('#feedback-boxes', JSON.stringify(boxes));
    await page.click('#feedback-form button[type="submit"]');
    await page.waitForSelector('#feedback-result .ok');
    assert.match((await page.textContent('#feedback-result')) ?? '', /feedback \S+ recorded/);
    // Broken JSON is said so, and nothing is sent.
    await page.fill('#feedback-boxes', '[{"box": ');
    await page.click('#feedback-form button[type="submit"]');
    await page.waitForSelector('#feedback-result .error');
    assert.match((await page.textContent('#feedback-result')) ?? '', /not JSON/);
    await page.screenshot({ path: join(SCREENSHOTS, 'detect-boxes.png'), fullPage: true });
    assert.deepEqual(problems, [], 'no script errors');
    await page.close();
  });
});
