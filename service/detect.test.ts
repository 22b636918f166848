/**
 * `POST /mscr/models/{m}/detect` end to end: a real service on loopback, a real local store,
 * a real TF.js detector (mscr's grid head, weights set by hand: detect-fixtures.ts) in a
 * worker thread through the one data plane and batcher. Exact boxes in the posted image's
 * pixels, the thresholds, concurrent requests batched and each answered its own, the raw
 * tensors over V1 and V2, feedback with corrected boxes, and hostile input answered with the
 * right status while the service keeps serving.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { createFeedbackStore } from '../connectors/sr/feedback-store.ts';
import type { DetectResponse } from '../connectors/sc/index.ts';
import { createLocalObjectStore } from '../connectors/store/index.ts';
import { tempStore, type TempStore } from './reload/test-support.ts';
import {
  postJson,
  publishToyForecaster,
  publishToyImageClassifier,
  startService,
  waitUntil,
} from './test-support.ts';
import { callUnary, grpcClients } from './grpc/test-support.ts';
import { fullCellScore, publishToyDetector, quartersPng } from './detect-fixtures.ts';
import type { Service } from './server.ts';

const RED: [number, number, number] = [255, 0, 0];
const GREEN: [number, number, number] = [0, 255, 0];
const DARK_RED: [number, number, number] = [128, 0, 0];

async function detect(
  url: string,
  body: RequestInit['body'],
  options: { model?: string; query?: string; type?: string } = {},
) {
  const response = await fetch(
    `${url}/mscr/models/${options.model ?? 'shapes'}/detect${options.query ?? ''}`,
    {
      method: 'POST',
      ...(options.type ? { headers: { 'content-type': options.type } } : {}),
      body,
    },
  );
  const json = (await response.json()) as Record<string, unknown>;
  return { status: response.status, json, answer: json as unknown as DetectResponse };
}

function near(actual: number, expected: number, tolerance: number, what: string) {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual} is not within ${tolerance} of ${expected}`,
  );
}

describe('POST /mscr/models/{m}/detect', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  let grpcPort: number | undefined;
  let image: Buffer; // 80x40: red top-left, dark red top-right, green bottom-right

  before(async () => {
    temp = await tempStore();
    await publishToyDetector(temp.store, 'shapes');
    await publishToyImageClassifier(temp.store, 'pets');
    await publishToyForecaster(temp.store, 'prices');
    ({ service, url, grpcPort } = await startService(temp.dir, {
      maxQueueDelayMs: '20',
      maxBodyBytes: String(512 * 1024),
    }));
    await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
    image = await quartersPng(80, 40, {
      topLeft: RED,
      topRight: DARK_RED,
      bottomRight: GREEN,
    });
  });
  after(async () => {
    await service?.stop();
    await temp?.cleanup();
  });

  test('boxes in the posted image pixels, best first, with labels, class indexes and scores', async () => {
    const { status, json, answer } = await detect(url, image, { type: 'image/png' });
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(answer.model, 'shapes');
    assert.equal(answer.version, 1);
    assert.deepEqual(answer.image, { width: 80, height: 40 });
    assert.match(answer.id, /^[0-9a-f-]{36}$/);
    const found = answer.detections;
    assert.equal(found.length, 3, JSON.stringify(found));
    // Two full cells (circle, square) score alike; the dark-red cell about half.
    const byLabel = Object.fromEntries(found.map((d) => [`${d.label}@${d.box[0]},${d.box[1]}`, d]));
    const circle = byLabel['circle@0,0'];
    const square = byLabel['square@40,20'];
    const dim = byLabel['circle@40,0'];
    assert.ok(circle && square && dim, JSON.stringify(found));
    assert.deepEqual(circle.box, [0, 0, 40, 20]);
    assert.deepEqual(square.box, [40, 20, 40, 20]);
    assert.deepEqual(dim.box, [40, 0, 40, 20]);
    assert.equal(circle.classIndex, 0);
    assert.equal(square.classIndex, 1);
    near(circle.score, fullCellScore(), 0.005, 'full red cell');
    near(square.score, fullCellScore(), 0.005, 'full green cell');
    // sigmoid(16 x 128/255 - 8) = 0.51 before resizing; the resize's ringing brightens it a little.
    near(dim.score, 0.53, 0.06, 'half-red cell');
    assert.equal(found.at(-1), dim, 'sorted by score, best first');
  });

  test('multipart (curl -F), a pinned version and an alias path answer the same boxes', async () => {
    const form = new FormData();
    form.append('image', new Blob([image]), 'shapes.png');
    const multipart = await fetch(`${url}/mscr/models/shapes/versions/1/detect`, {
      method: 'POST',
      body: form,
    });
    assert.equal(multipart.status, 200);
    const answer = (await multipart.json()) as DetectResponse;
    assert.equal(answer.detections.length, 3);
    assert.deepEqual(answer.image, { width: 80, height: 40 });
  });

  test('?threshold=, ?max= and ?iou= apply per request', async () => {
    const high = await detect(url, image, { query: '?threshold=0.6' });
    assert.equal(high.status, 200);
    assert.deepEqual(high.answer.detections.map((d) => d.box[0] + d.box[1]).sort(), [0, 60]);
    const one = await detect(url, image, { query: '?max=1' });
    assert.equal(one.answer.detections.length, 1);
    assert.ok((one.answer.detections[0]?.score ?? 0) > 0.99);
    // Neighbouring cells' boxes do not overlap: even iou=0 keeps all three.
    const iou = await detect(url, image, { query: '?iou=0&threshold=0.25' });
    assert.equal(iou.answer.detections.length, 3);
    const none = await detect(url, image, { query: '?threshold=1' });
    assert.deepEqual(none.answer.detections, []);
  });

  test('a bad parameter is a 400 naming it', async () => {
    for (const [query, name] of [
      ['?threshold=abc', 'threshold'],
      ['?threshold=1.5', 'threshold'],
      ['?threshold=-0.1', 'threshold'],
      ['?threshold=0.2&threshold=0.3', 'threshold'],
      ['?iou=2', 'iou'],
      ['?iou=NaN', 'iou'],
      ['?max=0', 'max'],
      ['?max=1.5', 'max'],
      ['?max=100000', 'max'],
      ['?max=-1', 'max'],
    ] as const) {
      const answer = await detect(url, image, { query });
      assert.equal(answer.status, 400, `${query}: ${JSON.stringify(answer.json)}`);
      assert.match(String(answer.json.error), new RegExp(`^${name} must`), query);
    }
  });

  test('concurrent requests share batches and each gets its own boxes', async () => {
    const layouts: { quarters: Parameters<typeof quartersPng>[2]; box: number[]; label: string }[] =
      [
        { quarters: { topLeft: RED }, box: [0, 0, 16, 16], label: 'circle' },
        { quarters: { topRight: GREEN }, box: [16, 0, 16, 16], label: 'square' },
        { quarters: { bottomLeft: GREEN }, box: [0, 16, 16, 16], label: 'square' },
        { quarters: { bottomRight: RED }, box: [16, 16, 16, 16], label: 'circle' },
      ];
    const images = await Promise.all(layouts.map((l) => quartersPng(32, 32, l.quarters)));
    const before = await batchesOverOne(url);
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) => detect(url, images[i % 4] as Buffer)),
    );
    answers.forEach((answer, i) => {
      const expected = layouts[i % 4];
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      assert.equal(answer.answer.detections.length, 1, `request ${i}`);
      assert.deepEqual(answer.answer.detections[0]?.box, expected?.box, `request ${i}`);
      assert.equal(answer.answer.detections[0]?.label, expected?.label, `request ${i}`);
    });
    assert.equal(new Set(answers.map((a) => a.answer.id)).size, 16, 'one prediction id each');
    assert.ok((await batchesOverOne(url)) > before, 'some requests were batched together');
  });

  test('V1 and V2 return the raw grid tensor of a detector', async () => {
    const pixels = new Array(8 * 8 * 3).fill(0);
    const v2 = await postJson(`${url}/v2/models/shapes/infer`, {
      inputs: [{ name: 'image', shape: [1, 8, 8, 3], datatype: 'FP32', data: pixels }],
    });
    assert.equal(v2.status, 200, JSON.stringify(v2.json));
    const [output] = v2.json.outputs as { shape: number[]; data: number[] }[];
    assert.deepEqual(output?.shape, [1, 2, 2, 7]);
    assert.equal(output?.data[0], -8, 'objectness logit of a black cell');
    const v1 = await postJson(`${url}/v1/models/shapes:predict`, {
      instances: [[...chunks(pixels)]],
    });
    assert.equal(v1.status, 200, JSON.stringify(v1.json));
    const predictions = v1.json.predictions as number[][][][];
    assert.equal(predictions[0]?.[1]?.[1]?.[0], -8);
  });

  test('gRPC ModelInfer returns the raw grid tensor of a detector', async () => {
    const clients = grpcClients(`127.0.0.1:${grpcPort}`);
    try {
      const answer = await callUnary<{
        outputs: { name: string; shape: (string | number)[] }[];
        raw_output_contents: Buffer[];
      }>(clients.inference, 'ModelInfer', {
        model_name: 'shapes',
        inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 8, 8, 3] }],
        raw_input_contents: [Buffer.from(new Float32Array(8 * 8 * 3).buffer)],
      });
      assert.deepEqual(answer.outputs[0]?.shape.map(Number), [1, 2, 2, 7]);
      const raw = answer.raw_output_contents[0] as Buffer;
      const values = new Float32Array(
        raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length),
      );
      assert.equal(values.length, 28);
      assert.equal(values[0], -8, 'objectness logit of a black cell');
    } finally {
      clients.close();
    }
  });

  test('the detections-per-image histogram is exported', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, /mscr_detections_per_image_count\{model="shapes",version="1"\} [1-9]/);
    assert.match(
      text,
      /mscr_requests_total\{model="shapes",version="1",protocol="image",status="200"\}/,
    );
  });

  test('hostile input: each refused with its status, and the service keeps serving', async () => {
    const cases: {
      what: string;
      status: number;
      error: RegExp;
      run: () => Promise<{ status: number; json: Record<string, unknown> }>;
    }[] = [
      {
        what: 'a classifier',
        status: 400,
        error:
          /model 'pets' is a image-classification model, not an object detector.*use \/classify/,
        run: () => detect(url, image, { model: 'pets' }),
      },
      {
        what: 'a forecaster',
        status: 400,
        error: /series-forecast model, not an object detector/,
        run: () => detect(url, image, { model: 'prices' }),
      },
      {
        what: 'an unknown model',
        status: 404,
        error: /unknown model "nope"/,
        run: () => detect(url, image, { model: 'nope' }),
      },
      {
        what: 'an unknown version',
        status: 404,
        error: /no version 9|version 9/,
        run: async () => {
          const r = await fetch(`${url}/mscr/models/shapes/versions/9/detect`, {
            method: 'POST',
            body: image,
          });
          return { status: r.status, json: (await r.json()) as Record<string, unknown> };
        },
      },
      {
        what: 'text',
        status: 415,
        error: /this server decodes/,
        run: () => detect(url, 'hello, no image here', { type: 'text/plain' }),
      },
      {
        what: 'an empty body',
        status: 400,
        error: /empty/,
        run: () => detect(url, new Uint8Array(0)),
      },
      {
        what: 'a truncated PNG',
        status: 400,
        error: /cannot decode/,
        run: () => detect(url, image.subarray(0, Math.floor(image.length / 2))),
      },
      {
        what: 'a body over the limit',
        status: 413,
        error: /larger than the limit/,
        run: () => detect(url, Buffer.alloc(600 * 1024, 1)),
      },
      {
        what: 'multipart without a file',
        status: 400,
        error: /no file part/,
        run: async () => {
          const form = new FormData();
          form.append('note', 'no image');
          return detect(url, form);
        },
      },
      {
        what: '/classify on the detector',
        status: 400,
        error: /model 'shapes' is an object-detection model: post its images to its \/detect route/,
        run: async () => {
          const r = await fetch(`${url}/mscr/models/shapes/classify`, {
            method: 'POST',
            body: image,
          });
          return { status: r.status, json: (await r.json()) as Record<string, unknown> };
        },
      },
      {
        what: 'a GET',
        status: 405,
        error: /takes POST/,
        run: async () => {
          const r = await fetch(`${url}/mscr/models/shapes/detect`);
          return { status: r.status, json: (await r.json()) as Record<string, unknown> };
        },
      },
    ];
    for (const c of cases) {
      const answer = await c.run();
      assert.equal(answer.status, c.status, `${c.what}: ${JSON.stringify(answer.json)}`);
      assert.match(String(answer.json.error), c.error, c.what);
    }
    // A decompression bomb: 5000x5000 pixels in a small PNG, refused by the pixel cap.
    const huge = await sharp({
      create: { width: 5000, height: 5000, channels: 3, background: '#000' },
    })
      .png({ compressionLevel: 9 })
      .toBuffer();
    const bomb = await detect(url, huge);
    assert.equal(bomb.status, 400, JSON.stringify(bomb.json));
    assert.match(String(bomb.json.error), /pixel/);
    const still = await detect(url, image);
    assert.equal(still.status, 200);
    assert.equal(still.answer.detections.length, 3);
  });
});

describe('feedback with corrected boxes', () => {
  let temp: TempStore;
  let service: Service;
  let url: string;
  let image: Buffer;

  before(async () => {
    temp = await tempStore();
    await publishToyDetector(temp.store, 'shapes');
    await publishToyImageClassifier(temp.store, 'pets');
    ({ service, url } = await startService(temp.dir, { feedbackTrust: 'any' }));
    await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
    image = await quartersPng(80, 40, { topLeft: RED });
  });
  after(async () => {
    await service?.stop();
    await temp?.cleanup();
  });

  const feedbackUrl = () => `${url}/mscr/models/shapes/feedback`;
  const records = () => createFeedbackStore(createLocalObjectStore(temp.dir)).list('shapes');

  test('by prediction id: stored with the posted image and the boxes in its pixels', async () => {
    const { answer } = await detect(url, image);
    const boxes = [
      { box: [0, 0, 40, 20], label: 'circle' },
      { box: [50.5, 22, 20, 10], label: 'square' },
    ];
    const posted = await postJson(feedbackUrl(), { predictionId: answer.id, boxes });
    assert.equal(posted.status, 201, JSON.stringify(posted.json));
    assert.equal(posted.json.version, 1);
    const record = (await records()).find((r) => r.id === posted.json.id);
    assert.deepEqual(record?.boxes, boxes);
    assert.equal(record?.predicted, 1, 'the number of boxes the model answered');
    const store = createFeedbackStore(createLocalObjectStore(temp.dir));
    const input = await store.readInput(record as NonNullable<typeof record>);
    assert.equal(input?.kind, 'image');
    assert.deepEqual(
      await sharp((input as { bytes: Uint8Array }).bytes)
        .metadata()
        .then((m) => [m.width, m.height]),
      [80, 40],
    );
    // Once per prediction.
    const again = await postJson(feedbackUrl(), { predictionId: answer.id, boxes: [] });
    assert.equal(again.status, 409);
  });

  test('with the image itself, and an empty list for "no objects"', async () => {
    const posted = await postJson(feedbackUrl(), {
      input: { image_b64: image.toString('base64') },
      boxes: [],
    });
    assert.equal(posted.status, 201, JSON.stringify(posted.json));
    const record = (await records()).find((r) => r.id === posted.json.id);
    assert.deepEqual(record?.boxes, []);
  });

  test('strict checks: labels, coordinates, counts, fields, and the model kind', async () => {
    const { answer } = await detect(url, image);
    const id = answer.id;
    const many = Array.from({ length: 101 }, () => ({ box: [0, 0, 1, 1], label: 'circle' }));
    const cases: [unknown, RegExp][] = [
      [
        { predictionId: id, boxes: [{ box: [0, 0, 4, 4], label: 'triangle' }] },
        /boxes\[0\]\.label "triangle" is not one of model shapes's labels: circle, square/,
      ],
      [
        { predictionId: id, boxes: [{ box: [70, 0, 20, 10], label: 'circle' }] },
        /reaches outside the 80x40 image/,
      ],
      [{ predictionId: id, boxes: [{ box: [-5, 0, 20, 10], label: 'circle' }] }, /reaches outside/],
      [{ predictionId: id, boxes: [{ box: [0, 0, 0, 10], label: 'circle' }] }, /must be positive/],
      [{ predictionId: id, boxes: [{ box: [0, 0, '4', 4], label: 'circle' }] }, /4 finite numbers/],
      [{ predictionId: id, boxes: [{ box: [0, 0, 4], label: 'circle' }] }, /4 finite numbers/],
      [
        { predictionId: id, boxes: [{ box: [0, 0, null, 4], label: 'circle' }] },
        /4 finite numbers/,
      ],
      [
        { predictionId: id, boxes: [{ box: [0, 0, 4, 4], label: 'circle', score: 1 }] },
        /unknown field "score"/,
      ],
      [{ predictionId: id, boxes: [{ box: [0, 0, 4, 4] }] }, /label must be a class name/],
      [{ predictionId: id, boxes: 'circle' }, /boxes must be a list/],
      [{ predictionId: id, boxes: many }, /101 boxes; at most 100/],
      [{ predictionId: id, label: 'circle' }, /object detector: send "boxes".*not "label"/],
      [{ predictionId: id }, /send "boxes"/],
      [{ input: { data: [0], shape: [1] }, boxes: [] }, /input.shape|image/],
    ];
    for (const [body, error] of cases) {
      const posted = await postJson(feedbackUrl(), body);
      assert.equal(
        posted.status,
        400,
        `${JSON.stringify(body).slice(0, 120)}: ${JSON.stringify(posted.json)}`,
      );
      assert.match(String(posted.json.error), error);
    }
    // The failed posts did not use up the prediction: a good one is taken.
    const good = await postJson(feedbackUrl(), {
      predictionId: id,
      boxes: [{ box: [0, 0, 40, 20], label: 'circle' }],
    });
    assert.equal(good.status, 201, JSON.stringify(good.json));
    // Boxes about a classifier's image are a 400.
    const classified = await fetch(`${url}/mscr/models/pets/classify`, {
      method: 'POST',
      body: image,
    });
    const ids = ((await classified.json()) as { predictionIds: string[] }).predictionIds;
    const wrong = await postJson(`${url}/mscr/models/pets/feedback`, {
      predictionId: ids[0],
      boxes: [{ box: [0, 0, 4, 4], label: 'cat' }],
    });
    assert.equal(wrong.status, 400);
    assert.match(
      String(wrong.json.error),
      /image-classification model, not an object detector.*send "label"/,
    );
    // Still serving.
    assert.equal((await detect(url, image)).status, 200);
  });
});

function* chunks(flat: number[]): Generator<number[][]> {
  for (let y = 0; y < 8; y++) {
    yield Array.from({ length: 8 }, (_, x) => flat.slice((y * 8 + x) * 3, (y * 8 + x) * 3 + 3));
  }
}

/** Batches of more than one row so far, from the batch-size histogram. */
async function batchesOverOne(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const count = (le: string) =>
    Number(
      new RegExp(
        `mscr_inference_batch_size_bucket\\{le="${le}",model="shapes",version="1"\\} (\\d+)`,
      ).exec(text)?.[1] ?? 0,
    );
  const total = Number(
    /mscr_inference_batch_size_count\{model="shapes",version="1"\} (\d+)/.exec(text)?.[1] ?? 0,
  );
  return total - count('1');
}
