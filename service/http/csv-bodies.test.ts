/**
 * Hostile CSV bodies on the forecast route (issue 15, item 2). A long run of digits in one
 * cell once blocked the event loop for 19 s per 100 KB (hours near the 8 MiB body limit),
 * liveness included. Each body here must answer a 4xx with `{"error"}` naming the problem,
 * and liveness must answer while the service reads them. The test's timeout is a hang guard.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { tempStore, type TempStore } from '../reload/test-support.ts';
import { publishToyForecaster, startService, waitUntil } from '../test-support.ts';
import type { Service } from '../server.ts';

let temp: TempStore;
let service: Service;
let url: string;

before(async () => {
  temp = await tempStore();
  await publishToyForecaster(temp.store, 'prices');
  ({ service, url } = await startService(temp.dir));
  await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'readiness');
});
after(async () => {
  await service.stop();
  await temp.cleanup();
});

const GOOD = 'Open,Close\n110,120\n120,130\n130,140\n';
const digits = (n: number) => '1'.repeat(n);

const HOSTILE: { name: string; body: string; error: RegExp }[] = [
  {
    name: 'a 60 KB cell of digits ending in a letter',
    body: `Open,Close\n110,120\n120,130\n130,${digits(60_000)}x\n`,
    error: /line 4, column Close: "1{32}" is not a number/,
  },
  {
    name: 'a 7 MiB single line of digits',
    body: `${digits(7 * 1024 * 1024)}x`,
    error: /line 1 is 7340033 characters long; the limit is 65536/,
  },
  {
    name: 'a 60 KB fraction ending in a bad exponent',
    body: `110,120\n120,130\n130,.${digits(60_000)}e\n`,
    error: /line 3, column Close: ".1{31}" is not a number/,
  },
  {
    name: 'a 60 KB exponent ending in a letter',
    body: `110,120\n120,130\n130,1e${digits(60_000)}x\n`,
    error: /is not a number/,
  },
  {
    name: 'a header cell of 60 KB digits and a letter',
    body: `${digits(60_000)}x,Close\n110,120\n120,130\n130,140\n`,
    error: /header|column/i,
  },
  {
    name: 'two million blank lines',
    body: '\n'.repeat(2_000_000),
    error: /more than 100000 lines/,
  },
  {
    name: 'a huge exponent',
    body: '110,120\n120,130\n130,1e999\n',
    error: /line 3, column Close: 1e999 is out of range/,
  },
];

for (const { name, body, error } of HOSTILE) {
  test(
    `forecast: ${name} -> 400 naming it, liveness answers meanwhile`,
    { timeout: 120_000 },
    async () => {
      const hostile = fetch(`${url}/mscr/models/prices/forecast`, {
        method: 'POST',
        headers: { 'content-type': 'text/csv' },
        body,
      });
      const live = await fetch(`${url}/v2/health/live`);
      assert.equal(live.status, 200);
      const response = await hostile;
      const text = await response.text();
      assert.equal(response.status, 400, text.slice(0, 300));
      const message = (JSON.parse(text) as { error: string }).error;
      assert.match(message, error);
      assert.ok(message.length < 1000, `the error echoes ${message.length} characters`);
      const good = await fetch(`${url}/mscr/models/prices/forecast`, {
        method: 'POST',
        body: GOOD,
      });
      assert.equal(good.status, 200);
    },
  );
}
