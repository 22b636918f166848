/**
 * Main-thread cost of decoding one CIFAR-10 Open Inference Protocol request (the real cat
 * image: 3072 FP32 values), in µs per request: the body's parse before (JSON.parse) and after
 * (json-tensors.ts: FP32 lists read straight into Float32Arrays), then the tensor decode
 * before and after the fast fills of `walkTensor` and the Float32Array binary inputs.
 *
 * "Before" is reproduced, not remembered: a reader `walkTensor` does not recognise (the same
 * checks, wrapped, a new one per request as `elementReader` made them) takes the careful
 * element-by-element walk that every request took, and the binary input is turned into a
 * list of numbers through a DataView, as it was. Both sides are checked to give the same
 * Float32Array before they are timed.
 *
 * Each row is timed in a process of its own: how fast the careful walk runs depends on what
 * else V8 has seen (from ~30 to ~600 µs for the same request), so rows in one process
 * would measure each other's history rather than themselves.
 *
 *   node --import tsx bench/decode-bench.ts [--image FILE]
 */
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { decodeImage } from '../connectors/ms/decode-image.ts';
import type { ModelManifest } from '../connectors/ms/manifest.ts';
import { imagePixelsToInput } from '../connectors/ms/preprocessing.ts';
import { elementReader, walkTensor } from '../service/protocols/tensor.ts';
import type { ElementReader, WalkOptions } from '../service/protocols/tensor.ts';
import { decodeInferRequest } from '../service/protocols/v2.ts';
import { inlineBinaryInputs, splitInferBody } from '../service/protocols/v2-binary.ts';
import { cifarManifest } from '../service/protocols/test-manifests.ts';
import { sharedData } from '../tests/shared-data.ts';

const { values: args } = parseArgs({
  options: { image: { type: 'string' }, row: { type: 'string' } },
});
const file = args.image ?? sharedData('cifar10/images/cat_0003.jpg');
const manifest: ModelManifest = cifarManifest;
const shape = [1, 32, 32, 3];
const preprocessing = manifest.preprocessing;
if (preprocessing.kind !== 'image') throw new Error('the CIFAR-10 manifest takes images');
const pixels = await decodeImage(await readFile(file), { height: 32, width: 32, channels: 3 });
const input = imagePixelsToInput(pixels, preprocessing);

// --- the request bodies, as clients send them ---------------------------------------------

const values = Array.from(input);
const nested = [
  Array.from({ length: 32 }, (_, y) =>
    Array.from({ length: 32 }, (_, x) => values.slice((y * 32 + x) * 3, (y * 32 + x + 1) * 3)),
  ),
];
const jsonBody = (data: unknown) =>
  Buffer.from(JSON.stringify({ inputs: [{ name: 'image', shape, datatype: 'FP32', data }] }));
const flatBody = jsonBody(values);
const nestedBody = jsonBody(nested);
const header = Buffer.from(
  JSON.stringify({
    inputs: [{ name: 'image', shape, datatype: 'FP32', parameters: { binary_data_size: 12288 } }],
  }),
);
const binaryBody = Buffer.concat([header, Buffer.from(input.buffer)]);

// --- before: the careful walk alone, and the binary input as a list of numbers ------------

const read = elementReader('FP32', 'float32') as ElementReader;
const careful: ElementReader = (v) => read(v);
const walkOptions: WalkOptions = {
  where: "input 'image' data",
  shape,
  maxElements: 4 * 1024 * 1024,
  read: careful,
  dtype: 'float32',
  allowFlat: true,
};

function carefulDecode(json: unknown): Float32Array {
  const raw = (json as { inputs: { data: unknown }[] }).inputs[0]?.data;
  // A new reader per request, as `elementReader` made one per request before.
  return walkTensor(raw, { ...walkOptions, read: (v) => read(v) }).data as Float32Array;
}

/** The binary input as the decoder got it before: numbers read one by one into a JS list. */
function binaryAsList(body: Buffer): number[] {
  const { binary } = splitInferBody(body, String(header.length));
  const bytes = binary as Uint8Array;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const data = new Array<number>(bytes.length / 4);
  for (let e = 0; e < data.length; e++) data[e] = view.getFloat32(e * 4, true);
  return data;
}

// --- now: what the service does --------------------------------------------------------------

function decode(body: Buffer, length?: string): Float32Array {
  const { json, binary } = splitInferBody(body, length);
  return decodeInferRequest(inlineBinaryInputs(json, binary), manifest).inputs[0]
    ?.data as Float32Array;
}

// --- timing ------------------------------------------------------------------------------

let sink: unknown;

/** µs per call: the best and the median of 31 batches of 100 calls, after a warm-up. */
function usPerCall(fn: () => unknown): { best: number; median: number } {
  for (let i = 0; i < 300; i++) sink = fn();
  const batches: number[] = [];
  for (let b = 0; b < 31; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 100; i++) sink = fn();
    batches.push(Number(process.hrtime.bigint() - start) / 1e3 / 100);
  }
  batches.sort((a, b) => a - b);
  return { best: batches[0] as number, median: batches[15] as number };
}

const parsedFlat = JSON.parse(flatBody.toString()) as unknown;
const parsedNested = JSON.parse(nestedBody.toString()) as unknown;
const binaryLength = String(header.length);
const binaryList = binaryAsList(binaryBody);

// Same answer both ways, bit for bit, before anything is timed (in the parent: a child
// times its row from a clean start).
for (const out of args.row !== undefined
  ? []
  : [
      carefulDecode(parsedFlat),
      carefulDecode(parsedNested),
      walkTensor(binaryList, walkOptions).data,
      decode(flatBody),
      decode(nestedBody),
      decode(binaryBody, binaryLength),
    ]) {
  assert.deepEqual(out, input);
}

const rows: [string, () => unknown][] = [
  ['flat JSON body: JSON.parse, before', () => JSON.parse(flatBody.toString('utf8'))],
  [
    'flat JSON body: splitInferBody, now (json-tensors.ts)',
    () => splitInferBody(flatBody, undefined),
  ],
  ['flat JSON data: tensor walk, before (careful only)', () => carefulDecode(parsedFlat)],
  [
    'flat JSON data: decodeInferRequest, now (fast fill)',
    () => decodeInferRequest(parsedFlat, manifest),
  ],
  ['nested JSON data: tensor walk, before (careful only)', () => carefulDecode(parsedNested)],
  [
    'nested JSON data: decodeInferRequest, now (fast fill)',
    () => decodeInferRequest(parsedNested, manifest),
  ],
  [
    'binary FP32: split + list of numbers + walk, before',
    () => walkTensor(binaryAsList(binaryBody), walkOptions),
  ],
  ['binary FP32: split + inline + decodeInferRequest, now', () => decode(binaryBody, binaryLength)],
  [
    'whole flat JSON request, before (JSON.parse + decode)',
    () => decodeInferRequest(JSON.parse(flatBody.toString('utf8')), manifest),
  ],
  ['whole flat JSON request, now (parse + decode)', () => decode(flatBody)],
];

if (args.row !== undefined) {
  // A child: time one row, print its figures as JSON.
  const row = rows[Number(args.row)];
  if (row === undefined) throw new Error(`no row ${args.row}`);
  console.log(JSON.stringify(usPerCall(row[1])));
} else {
  console.log(`decode of one CIFAR-10 V2 request (${input.length} FP32 values, ${file})`);
  console.log(
    `node ${process.version}; µs per request, best / median of 31 batches of 100, each row in a fresh process\n`,
  );
  const width = Math.max(...rows.map(([name]) => name.length));
  for (const [index, [name]] of rows.entries()) {
    const script = new URL(import.meta.url).pathname;
    const child = execFileSync(
      process.execPath,
      [...process.execArgv, script, '--image', file, '--row', String(index)],
      { encoding: 'utf8' },
    );
    const { best, median } = JSON.parse(child) as { best: number; median: number };
    console.log(
      `${name.padEnd(width)}  ${best.toFixed(1).padStart(7)}  ${median.toFixed(1).padStart(7)}`,
    );
  }
}
void sink;
