/**
 * The web page's committed files: the bundle is exactly what the sources build to (so a fresh
 * clone and `npm start` serve the current page with no build step), it is browser-safe, and
 * the page's HTML has what the script looks for. The chart is checked as markup here and in
 * a real browser by tests/client-web.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { lineChartSvg, niceTicks } from './src/chart.ts';

const publicDir = new URL('./public/', import.meta.url);

test('public/app.js is up to date with client/web/src and the SDK (run npm run build:web)', async () => {
  const { buildWebBundle, OUTPUT } = (await import(
    new URL('./build.mjs', import.meta.url).href
  )) as {
    buildWebBundle: () => Promise<string>;
    OUTPUT: string;
  };
  const [built, committed] = await Promise.all([buildWebBundle(), readFile(OUTPUT, 'utf8')]);
  assert.ok(
    built === committed,
    'client/web/public/app.js is stale: run `npm run build:web` and commit the result',
  );
});

test('the bundle is browser-safe: no Node imports, no require, nothing fetched from elsewhere', async () => {
  const bundle = await readFile(new URL('app.js', publicDir), 'utf8');
  assert.doesNotMatch(bundle, /from\s*["']node:|import\(\s*["']node:|require\(\s*["']node:/);
  assert.doesNotMatch(bundle, /\bprocess\.env\b|\bBuffer\./);
  assert.doesNotMatch(bundle, /(?:fetch|import)\(\s*["'`]https?:/);
  assert.match(bundle, /createClient/);
});

test('index.html has every element the script uses, a label for every control, and no remote assets', async () => {
  const html = await readFile(new URL('index.html', publicDir), 'utf8');
  const script = await readFile(new URL('../web/src/main.ts', import.meta.url), 'utf8');
  const ids = new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
  const used = [...script.matchAll(/byId(?:<[^>]+>)?\('([^']+)'\)/g)].map((m) => m[1]);
  assert.ok(used.length > 20);
  assert.deepEqual(
    used.filter((id) => !ids.has(id)),
    [],
    'ids the script looks up but the page lacks',
  );
  for (const control of html.matchAll(/<(input|select)\s[^>]*id="([^"]+)"/g)) {
    assert.match(html, new RegExp(`<label for="${control[2]}"`), `a label for #${control[2]}`);
  }
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'no CDN or remote asset');
  assert.match(html, /<script type="module" src="app.js"><\/script>/);
  assert.match(html, /aria-live="polite"/);
});

test('niceTicks gives round steps covering the range', () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(781.3, 838.2, 5), [790, 800, 810, 820, 830]);
  assert.deepEqual(niceTicks(5, 5), [5]);
});

test('lineChartSvg draws actual and predicted lines, breaking at missing values', () => {
  const svg = lineChartSvg(
    [
      { x: 1, actual: 10, predicted: 11 },
      { x: 2, actual: 12 },
      { x: 3, actual: 11, predicted: 12 },
      { x: 4, predicted: 13 },
    ],
    { title: 'Close <GOOG>', valueName: 'Close' },
  );
  assert.equal((svg.match(/class="series actual" points=/g) ?? []).length, 1);
  assert.equal((svg.match(/class="series predicted" points=/g) ?? []).length, 2);
  assert.match(svg, /<title>Close &lt;GOOG&gt;<\/title>/);
  assert.match(svg, /role="img"/);
  assert.match(lineChartSvg([], { title: 't', valueName: 'v' }), /No data to plot/);
});
