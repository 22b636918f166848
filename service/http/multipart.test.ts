/**
 * Hostile multipart bodies on the classify routes (issue 15, item 1). A body that ended inside
 * a file part once made busboy's file stream emit 'error' with no listener, and Node ended
 * the process: one 76-byte request took the Service down, for any model name, before the
 * model lookup. The service runs in this test's own process, so a regression kills the test.
 *
 * Sweeps: every truncation of a valid form, hand-written malformed variants, and random
 * mutations (fast-check) of valid forms. Each must answer 200 (still a valid form) or a 4xx
 * with `{"error"}`, and the service must keep answering good requests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { tempStore, type TempStore } from '../reload/test-support.ts';
import { publishToy, startService, waitUntil } from '../test-support.ts';
import { cifarManifest } from '../protocols/test-manifests.ts';
import { sharedData } from '../../tests/shared-data.ts';
import type { Service } from '../server.ts';
import { imageFromBody } from './body.ts';

const BOUNDARY = 'mscr-7f3a-b';
const CONTENT_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

function form(file: Uint8Array, extraParts = ''): Buffer {
  return Buffer.concat([
    Buffer.from(
      `${extraParts}--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="cat.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

/** The report's request: 76 bytes that end inside the file part. */
const REPORTED = Buffer.from(
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nabc`,
);

describe('multipart bodies that end early or lie', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  let jpeg: Buffer;

  before(async () => {
    temp = await tempStore();
    const model = tf.sequential();
    model.add(tf.layers.conv2d({ inputShape: [32, 32, 3], filters: 2, kernelSize: 3 }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
    const { inputs, outputs, preprocessing, labels } = cifarManifest;
    await publishToy(temp.store, model, {
      name: 'cifar',
      task: 'image-classification',
      architecture: 'tiny-cnn',
      inputs,
      outputs,
      preprocessing,
      ...(labels ? { labels } : {}),
    });
    ({ service, url } = await startService(temp.dir));
    await waitUntil(
      async () => (await fetch(`${url}/v2/health/ready`)).status === 200,
      'readiness',
    );
    jpeg = await readFile(sharedData('cifar10/images/cat_0003.jpg'));
  });
  after(async () => {
    await service.stop();
    await temp.cleanup();
  });

  async function post(model: string, body: Uint8Array, contentType = CONTENT_TYPE) {
    const response = await fetch(`${url}/mscr/models/${model}/classify`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });
    const text = await response.text();
    return { status: response.status, text };
  }

  /** A 4xx with a JSON error naming the problem, or a 200 when the body is still a valid form. */
  function assertHandled(result: { status: number; text: string }, what: string) {
    if (result.status === 200) return;
    assert.ok(
      result.status >= 400 && result.status < 500,
      `${what}: status ${result.status} ${result.text}`,
    );
    const parsed = JSON.parse(result.text) as { error?: unknown };
    assert.equal(typeof parsed.error, 'string', `${what}: ${result.text}`);
  }

  async function assertStillServing() {
    assert.equal((await fetch(`${url}/v2/health/live`)).status, 200);
    const good = await post('cifar', form(jpeg));
    assert.equal(good.status, 200, good.text);
  }

  test('the reported 76-byte request answers 400 for a served and an unknown model', async () => {
    assert.equal(REPORTED.length, 76);
    for (const model of ['cifar', 'no-such-model']) {
      const result = await post(model, REPORTED);
      assert.equal(result.status, 400, result.text);
      assert.match(
        (JSON.parse(result.text) as { error: string }).error,
        /malformed multipart request: Unexpected end of form/,
      );
    }
    await assertStillServing();
  });

  test('every truncation of a valid form is a 4xx or a 200, never a crash', async () => {
    const whole = form(Buffer.from('not really an image, but bytes'));
    for (let end = 0; end <= whole.length; end++) {
      assertHandled(await post('cifar', whole.subarray(0, end)), `first ${end} bytes`);
    }
    await assertStillServing();
  });

  test('malformed forms: each answers a 4xx naming the problem', async () => {
    const file = Buffer.from('bytes');
    const cases: { name: string; body: Uint8Array; contentType?: string }[] = [
      { name: 'no boundary parameter', body: form(file), contentType: 'multipart/form-data' },
      { name: 'empty boundary', body: form(file), contentType: 'multipart/form-data; boundary=' },
      {
        name: 'boundary not in the body',
        body: form(file),
        contentType: 'multipart/form-data; boundary=other',
      },
      { name: 'empty body', body: Buffer.alloc(0) },
      { name: 'only the closing delimiter', body: Buffer.from(`--${BOUNDARY}--\r\n`) },
      { name: 'preamble only', body: Buffer.from('hello\r\n') },
      {
        name: 'headers never end',
        body: Buffer.from(
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n`,
        ),
      },
      {
        name: 'a header line without a colon',
        body: Buffer.from(`--${BOUNDARY}\r\nnonsense\r\n\r\nabc\r\n--${BOUNDARY}--\r\n`),
      },
      {
        name: 'a part with no headers at all',
        body: Buffer.from(`--${BOUNDARY}\r\n\r\nabc\r\n--${BOUNDARY}--\r\n`),
      },
      {
        name: 'fields only, no file',
        body: Buffer.from(
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--${BOUNDARY}--\r\n`,
        ),
      },
      {
        name: 'hundreds of fields before the file',
        body: form(
          file,
          Array.from(
            { length: 500 },
            (_, i) =>
              `--${BOUNDARY}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\n${i}\r\n`,
          ).join(''),
        ),
      },
      {
        name: 'a header block of many lines',
        body: Buffer.from(
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n${'X-A: b\r\n'.repeat(2000)}\r\nabc\r\n--${BOUNDARY}--\r\n`,
        ),
      },
      {
        name: 'LF line endings instead of CRLF',
        body: Buffer.from(
          `--${BOUNDARY}\nContent-Disposition: form-data; name="image"; filename="a"\n\nabc\n--${BOUNDARY}--\n`,
        ),
      },
      {
        name: 'the file cut inside the closing delimiter',
        body: form(file).subarray(0, -6),
      },
      {
        name: 'a nested multipart/mixed part, cut short',
        body: Buffer.from(
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="files"\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\nContent-Disposition: file; filename="a"\r\n\r\nab`,
        ),
      },
      {
        name: 'a 200-character boundary',
        body: Buffer.from(
          form(file).toString('latin1').replaceAll(BOUNDARY, 'b'.repeat(200)),
          'latin1',
        ),
        contentType: `multipart/form-data; boundary=${'b'.repeat(200)}`,
      },
    ];
    for (const { name, body, contentType } of cases) {
      for (const model of ['cifar', 'unknown-model']) {
        const result = await post(model, body, contentType);
        assert.notEqual(result.status, 200, `${name}: ${result.text}`);
        assertHandled(result, name);
      }
    }
    await assertStillServing();
  });

  test('random mutations of valid forms never crash or 5xx (fast-check)', async () => {
    const seedForms = [form(Buffer.from('abc')), form(jpeg.subarray(0, 300)), REPORTED];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...seedForms),
        fc.array(
          fc.record({
            at: fc.nat(),
            kind: fc.constantFrom('flip', 'cut', 'insert', 'delete'),
            bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        async (seed, edits) => {
          let body = Buffer.from(seed);
          for (const { at, kind, bytes } of edits) {
            const i = at % (body.length + 1);
            if (kind === 'cut') body = body.subarray(0, i);
            else if (kind === 'insert')
              body = Buffer.concat([body.subarray(0, i), bytes, body.subarray(i)]);
            else if (kind === 'delete')
              body = Buffer.concat([body.subarray(0, i), body.subarray(i + (bytes[0] ?? 1))]);
            else if (i < body.length) body[i] = (body[i] as number) ^ (bytes[0] as number);
          }
          assertHandled(await post('cifar', body), `mutated body of ${body.length} bytes`);
        },
      ),
      { numRuns: 200, seed: 15_001 },
    );
    await assertStillServing();
  });
});

test('imageFromBody settles once, with the first problem', async () => {
  await assert.rejects(imageFromBody(REPORTED, CONTENT_TYPE), {
    code: 'bad_request',
    message: /Unexpected end of form/,
  });
  await assert.rejects(imageFromBody(Buffer.from('x'), 'multipart/form-data'), {
    code: 'bad_request',
    message: /malformed multipart request/,
  });
  const ok = await imageFromBody(form(Buffer.from('abc')), CONTENT_TYPE);
  assert.equal(Buffer.from(ok.bytes).toString(), 'abc');
  assert.equal(ok.name, 'file "cat.jpg"');
});
