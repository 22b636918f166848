/**
 * The mscr API as the load scripts use it: which models the service serves (found at setup,
 * so the scripts work against the embedded store, `npm start`'s demo or a cluster without
 * configuration), real payloads (a CIFAR-10 image, 7 days of GOOG prices), and one function
 * per request that tags it by protocol and checks status and body. Runs in k6, not Node.
 */
import http from 'k6/http';
import type { RefinedResponse, ResponseType } from 'k6/http';
import { check, sleep } from 'k6';
import { common, type Protocol } from './config.ts';

/** The bundled samples (see loadtest/samples.ts); `IMAGE` and `CSV` swap in other files. */
const imageFile = open(
  __ENV.IMAGE ? __ENV.IMAGE : import.meta.resolve('../samples/cat_0003.jpg'),
  'b',
);
const imagePixels = new Uint8Array(open(import.meta.resolve('../samples/cat_0003.rgb'), 'b'));
const windowCsv = open(__ENV.CSV ? __ENV.CSV : import.meta.resolve('../samples/goog-window.csv'));

export type ModelKind = 'image' | 'series' | 'other';

export interface Target {
  model: string;
  kind: ModelKind;
  input: { name: string; datatype: string; shape: number[] };
  /** The newest AVAILABLE version when setup ran. */
  version: number;
}

interface V2Metadata {
  inputs?: { name: string; datatype: string; shape: number[] }[];
}
interface V1Status {
  model_version_status?: { version: string; state: string }[];
}

const json = { 'Content-Type': 'application/json' };

function parse<T>(response: RefinedResponse<ResponseType | undefined>): T | undefined {
  try {
    return response.json() as T;
  } catch {
    return undefined;
  }
}

function getJson<T>(path: string): T {
  const response = http.get(`${common.baseUrl}${path}`, {
    tags: { traffic: 'setup' },
    timeout: common.timeout,
  });
  const body = response.status === 200 ? parse<T>(response) : undefined;
  if (body === undefined) {
    throw new Error(
      `GET ${common.baseUrl}${path} answered ${response.status || response.error}: ${String(response.body).slice(0, 300)}`,
    );
  }
  return body;
}

/** The newest AVAILABLE version of a model, from `GET /v1/models/{m}` (0: none). */
export function servedVersion(model: string): number {
  const status = getJson<V1Status>(`/v1/models/${encodeURIComponent(model)}`);
  const available = (status.model_version_status ?? [])
    .filter((s) => s.state === 'AVAILABLE')
    .map((s) => Number(s.version));
  return available.length === 0 ? 0 : Math.max(...available);
}

function kindOf(shape: number[]): ModelKind {
  if (shape.length === 4 && (shape[3] === 1 || shape[3] === 3)) return 'image';
  if (shape.length === 3) return 'series';
  return 'other';
}

/** Every model the service serves, with its input and current version. */
export function discover(): Target[] {
  const names = getJson<{ models: string[] }>('/v1/models').models;
  if (names.length === 0) throw new Error(`${common.baseUrl} serves no model`);
  return names.map((model) => {
    const metadata = getJson<V2Metadata>(`/v2/models/${encodeURIComponent(model)}`);
    const input = metadata.inputs?.[0];
    if (input === undefined) throw new Error(`model ${model} has no input in its V2 metadata`);
    return { model, kind: kindOf(input.shape), input, version: servedVersion(model) };
  });
}

/** The model `MODEL` names, else the first image model, else the first model. */
export function pickTarget(targets: Target[]): Target {
  if (common.model !== '') {
    const found = targets.find((t) => t.model === common.model);
    if (found === undefined) {
      throw new Error(
        `MODEL=${common.model} is not served at ${common.baseUrl}; it serves ${targets.map((t) => t.model).join(', ')}`,
      );
    }
    return found;
  }
  return targets.find((t) => t.kind === 'image') ?? (targets[0] as Target);
}

/** Waits (up to `seconds`) until `/v2/health/ready` answers 200. */
export function waitReady(seconds = 60): void {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const response = http.get(`${common.baseUrl}/v2/health/ready`, {
      tags: { traffic: 'setup' },
      responseCallback: http.expectedStatuses(200, 503),
    });
    if (response.status === 200) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${common.baseUrl}/v2/health/ready did not answer 200 within ${seconds} s (last: ${response.status || response.error})`,
      );
    }
    sleep(0.25);
  }
}

// ---- payloads ----------------------------------------------------------------------------

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** The oldest-first numeric rows of the CSV window (comment lines skipped). */
function windowRows(): number[][] {
  const rows = windowCsv
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.split(',').map(Number))
    .filter((row) => row.every(Number.isFinite));
  // GOOG's file is newest first; models take the oldest day first.
  return __ENV.CSV_ORDER === 'oldest-first' ? rows : rows.reverse();
}

/**
 * The model's input tensor for one sample, row-major. Images: the bundled CIFAR-10 pixels
 * rescaled to 0..1 (the default normalization). Series: the price window min-max scaled per
 * column within the window (the manifest's scaler is not part of the API; the values are in
 * the same 0..1 range, with the real shape of a week of prices).
 */
function tensorData(target: Target): number[] {
  const dims = target.input.shape.slice(1);
  const size = dims.reduce((a, b) => a * b, 1);
  if (target.kind === 'image') {
    if (dims[0] !== 32 || dims[1] !== 32 || dims[2] !== 3) {
      throw new Error(
        `model ${target.model} takes [${target.input.shape}] images; the bundled sample is 32x32x3 (use PROTOCOLS=mscr to post image files instead)`,
      );
    }
    return Array.from(imagePixels, (p) => round(p / 255));
  }
  if (target.kind === 'series') {
    const rows = windowRows();
    const [days, columns] = dims as [number, number];
    if (rows.length < days || rows.some((r) => r.length !== columns)) {
      throw new Error(
        `model ${target.model} takes windows of ${days} rows x ${columns} columns; the CSV has ${rows.length} rows of ${rows[0]?.length} (set CSV=<file>)`,
      );
    }
    const window = rows.slice(rows.length - days);
    const out: number[] = [];
    for (const row of window) {
      row.forEach((value, c) => {
        const column = window.map((r) => r[c] as number);
        const min = Math.min(...column);
        const span = Math.max(...column) - min;
        out.push(span === 0 ? 0.5 : round((value - min) / span));
      });
    }
    return out;
  }
  return new Array<number>(size).fill(0.5);
}

/** `data` (flat) as nested arrays of `dims`. */
function nest(data: number[], dims: number[]): unknown {
  if (dims.length <= 1) return data;
  const inner = dims.slice(1).reduce((a, b) => a * b, 1);
  const out: unknown[] = [];
  for (let i = 0; i < data.length; i += inner)
    out.push(nest(data.slice(i, i + inner), dims.slice(1)));
  return out;
}

interface Bodies {
  v2: string;
  v1Rows: string;
  v1Columns: string;
}
const bodyCache: Record<string, Bodies> = {};

/** The JSON bodies of a target, built once per VU. */
export function bodies(target: Target): Bodies {
  const cached = bodyCache[target.model];
  if (cached !== undefined) return cached;
  const data = tensorData(target);
  const dims = target.input.shape.slice(1);
  const instance = nest(data, dims);
  const built = {
    v2: JSON.stringify({
      id: 'k6',
      inputs: [
        { name: target.input.name, shape: [1, ...dims], datatype: target.input.datatype, data },
      ],
    }),
    v1Rows: JSON.stringify({ instances: [instance] }),
    v1Columns: JSON.stringify({ inputs: [instance] }),
  };
  bodyCache[target.model] = built;
  return built;
}

// ---- requests ----------------------------------------------------------------------------

export interface Answer {
  ok: boolean;
  /** The version that answered, when the response says (V2 and mscr do, V1 does not). */
  version?: number;
}

function post(
  path: string,
  body: string | ArrayBuffer,
  protocol: Protocol,
  endpoint: string,
  contentType: string,
  extraTags: Record<string, string>,
): RefinedResponse<ResponseType | undefined> {
  return http.post(`${common.baseUrl}${path}`, body, {
    headers: { 'Content-Type': contentType },
    tags: { traffic: 'load', protocol, endpoint, name: endpoint, ...extraTags },
    timeout: common.timeout,
  });
}

interface V2Response {
  model_name?: string;
  model_version?: string;
  outputs?: { name: string; shape: number[]; data: unknown[] }[];
}

/** `POST /v2/models/{m}[/versions/{v}]/infer`. */
export function v2Infer(
  target: Target,
  tags: Record<string, string> = {},
  version?: number,
): Answer {
  const m = encodeURIComponent(target.model);
  const path =
    version === undefined ? `/v2/models/${m}/infer` : `/v2/models/${m}/versions/${version}/infer`;
  const response = post(
    path,
    bodies(target).v2,
    'v2',
    'POST /v2/models/{m}/infer',
    json['Content-Type'],
    tags,
  );
  const body = response.status === 200 ? parse<V2Response>(response) : undefined;
  const output = body?.outputs?.[0];
  const ok = check(response, {
    'V2 infer answers 200': (r) => r.status === 200,
    'V2 infer returns an output tensor for the one input row': () =>
      output !== undefined &&
      output.shape[0] === 1 &&
      output.data.length === output.shape.reduce((a, b) => a * b, 1),
    'V2 infer names the model and the version that answered': () =>
      body?.model_name === target.model && /^[0-9]+$/.test(body?.model_version ?? ''),
  });
  return {
    ok,
    version: body?.model_version === undefined ? undefined : Number(body.model_version),
  };
}

/** `POST /v1/models/{m}:predict`, row (`instances`) or columnar (`inputs`) format. */
export function v1Predict(
  target: Target,
  tags: Record<string, string> = {},
  columnar = false,
): Answer {
  const path = `/v1/models/${encodeURIComponent(target.model)}:predict`;
  const b = bodies(target);
  const response = post(
    path,
    columnar ? b.v1Columns : b.v1Rows,
    'v1',
    'POST /v1/models/{m}:predict',
    json['Content-Type'],
    tags,
  );
  const body =
    response.status === 200
      ? parse<{ predictions?: unknown[]; outputs?: unknown }>(response)
      : undefined;
  const ok = check(response, {
    'V1 predict answers 200': (r) => r.status === 200,
    'V1 predict returns one prediction for the one instance': () =>
      columnar ? body?.outputs !== undefined : body?.predictions?.length === 1,
  });
  return { ok };
}

interface ClassifyResponse {
  version?: number;
  predictions?: { label: string; score: number }[][];
}
interface ForecastResponse {
  version?: number;
  forecast?: number[];
}

/** `POST /mscr/models/{m}/classify` with the JPEG, or `/forecast` with the CSV window. */
export function convenience(target: Target, tags: Record<string, string> = {}): Answer {
  const m = encodeURIComponent(target.model);
  if (target.kind === 'series') {
    const order = __ENV.CSV_ORDER === 'oldest-first' ? '' : '?order=newest-first';
    const response = post(
      `/mscr/models/${m}/forecast${order}`,
      windowCsv,
      'mscr',
      'POST /mscr/models/{m}/forecast',
      'text/csv',
      tags,
    );
    const body = response.status === 200 ? parse<ForecastResponse>(response) : undefined;
    const ok = check(response, {
      'forecast answers 200': (r) => r.status === 200,
      'forecast returns a price': () => Number.isFinite(body?.forecast?.[0]),
    });
    return { ok, version: body?.version };
  }
  const response = post(
    `/mscr/models/${m}/classify?top=3`,
    imageFile,
    'mscr',
    'POST /mscr/models/{m}/classify',
    'image/jpeg',
    tags,
  );
  const body = response.status === 200 ? parse<ClassifyResponse>(response) : undefined;
  const top = body?.predictions?.[0];
  const ok = check(response, {
    'classify answers 200': (r) => r.status === 200,
    'classify returns the top 3 labels with scores': () =>
      top !== undefined &&
      top.length >= 1 &&
      top.length <= 3 &&
      top.every((p) => typeof p.label === 'string' && p.score >= 0 && p.score <= 1),
  });
  return { ok, version: body?.version };
}

/** One request of the load mix: the protocols of `PROTOCOLS` in turn, by iteration number. */
export function mixedRequest(
  target: Target,
  iteration: number,
  tags: Record<string, string> = {},
): Answer {
  const protocol = common.protocols[iteration % common.protocols.length] as Protocol;
  if (protocol === 'v2') return v2Infer(target, tags);
  if (protocol === 'v1') return v1Predict(target, tags);
  return convenience(target, tags);
}
