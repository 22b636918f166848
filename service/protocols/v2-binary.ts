/**
 * The binary tensor data extension of the Open Inference Protocol (Triton's
 * `binary_tensor_data`), which `tritonclient` uses by default
 * (`set_data_from_numpy(..., binary_data=True)`): the body is a JSON header of
 * `Inference-Header-Content-Length` bytes followed by the raw little-endian tensors, in
 * input order, each input declaring its size in `parameters.binary_data_size`. Outputs
 * asked for with `parameters.binary_data: true` (or all of them with the request's
 * `binary_data_output: true`) come back the same way.
 *
 * The binary inputs are turned into `data` so that one validator checks every request,
 * whatever its encoding: FP32 into a Float32Array (the common case, copied in one go, no
 * JS array in between), other datatypes into a list of numbers as JSON would carry them.
 */
import { parseInferJson } from './json-tensors.ts';
import type { InferResponse } from '../../connectors/sc/index.ts';
import { badRequest, describeValue, isPlainObject, own, quote } from './tensor.ts';

export const HEADER_LENGTH = 'inference-header-content-length';

/** Bytes per element of the datatypes mscr accepts in binary form. */
const BINARY_READERS: Record<
  string,
  { bytes: number; read: (view: DataView, offset: number) => number }
> = {
  FP32: { bytes: 4, read: (v, o) => v.getFloat32(o, true) },
  FP64: { bytes: 8, read: (v, o) => v.getFloat64(o, true) },
  INT8: { bytes: 1, read: (v, o) => v.getInt8(o) },
  INT16: { bytes: 2, read: (v, o) => v.getInt16(o, true) },
  INT32: { bytes: 4, read: (v, o) => v.getInt32(o, true) },
  INT64: { bytes: 8, read: (v, o) => Number(v.getBigInt64(o, true)) },
  UINT8: { bytes: 1, read: (v, o) => v.getUint8(o) },
  UINT16: { bytes: 2, read: (v, o) => v.getUint16(o, true) },
  UINT32: { bytes: 4, read: (v, o) => v.getUint32(o, true) },
  BOOL: { bytes: 1, read: (v, o) => v.getUint8(o) },
};

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * FP32 little-endian bytes (a multiple of 4) -> Float32Array. The bytes are copied (their
 * offset in the body need not be a multiple of 4, and the body's memory is not kept); a
 * big-endian host reads them one by one (`littleEndianHost` is a parameter for the tests).
 */
export function float32FromLittleEndian(
  bytes: Uint8Array,
  littleEndianHost = LITTLE_ENDIAN,
): Float32Array {
  const out = new Float32Array(bytes.length / 4);
  if (littleEndianHost) {
    new Uint8Array(out.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let e = 0; e < out.length; e++) out[e] = view.getFloat32(e * 4, true);
  }
  return out;
}

/** Bytes per element of a datatype in binary form; undefined: not accepted in binary form. */
export function binaryElementBytes(datatype: string): number | undefined {
  return Object.hasOwn(BINARY_READERS, datatype) ? BINARY_READERS[datatype]?.bytes : undefined;
}

/**
 * Little-endian tensor bytes of a datatype mscr accepts in binary form (a whole number of
 * elements: check with `binaryElementBytes` first) -> the values `data` carries: a
 * Float32Array for FP32, numbers otherwise. Shared by the HTTP binary extension and gRPC's
 * `raw_input_contents` / TF Serving's `tensor_content`.
 */
export function binaryTensorData(datatype: string, bytes: Uint8Array): Float32Array | number[] {
  const reader = BINARY_READERS[datatype];
  if (reader === undefined || !Object.hasOwn(BINARY_READERS, datatype))
    throw badRequest(`binary data is accepted for ${Object.keys(BINARY_READERS).join(', ')}`);
  if (datatype === 'FP32') return float32FromLittleEndian(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const data = new Array<number>(Math.floor(bytes.length / reader.bytes));
  for (let e = 0; e < data.length; e++) data[e] = reader.read(view, e * reader.bytes);
  return data;
}

/** Splits a request body into its JSON header and the binary tensor data after it. */
export function splitInferBody(
  body: Uint8Array,
  headerLength: string | undefined,
): { json: unknown; binary?: Uint8Array } {
  const parse = (bytes: Uint8Array): unknown => {
    if (bytes.length === 0) throw badRequest('the request body is empty: send a JSON object');
    try {
      // FP32 `data` lists come back as Float32Arrays (json-tensors.ts), as binary inputs do.
      return parseInferJson(bytes);
    } catch (error) {
      throw badRequest(`the request body is not valid JSON: ${(error as Error).message}`);
    }
  };
  if (headerLength === undefined) return { json: parse(body) };
  const length = Number(headerLength);
  if (!/^\d+$/.test(headerLength) || length < 2 || length > body.length) {
    throw badRequest(
      `Inference-Header-Content-Length is ${quote(headerLength)}; it must be the JSON header's size in bytes, at most the body's ${body.length}`,
    );
  }
  return { json: parse(body.subarray(0, length)), binary: body.subarray(length) };
}

/** Replaces each binary input's bytes by `data`; checks sizes and that every byte is used. */
export function inlineBinaryInputs(
  json: unknown,
  binary: Uint8Array | undefined,
  maxElements = 4 * 1024 * 1024,
): unknown {
  if (!isPlainObject(json) || !Array.isArray(own(json, 'inputs'))) return json;
  let offset = 0;
  let elements = 0;
  const inputs = (own(json, 'inputs') as unknown[]).map((raw: unknown, i) => {
    if (!isPlainObject(raw)) return raw;
    const parameters = own(raw, 'parameters');
    if (!isPlainObject(parameters) || !Object.hasOwn(parameters, 'binary_data_size')) return raw;
    const where = `inputs[${i}]`;
    const size = own(parameters, 'binary_data_size');
    if (binary === undefined) {
      throw badRequest(
        `${where} declares binary_data_size but the request has no Inference-Header-Content-Length header, so there is no binary data`,
      );
    }
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw badRequest(
        `${where} parameters.binary_data_size must be a byte count, got ${describeValue(size)}`,
      );
    }
    const datatype = own(raw, 'datatype');
    const reader = typeof datatype === 'string' ? BINARY_READERS[datatype] : undefined;
    if (reader === undefined) {
      throw badRequest(
        `${where} has datatype ${describeValue(datatype)}; binary data is accepted for ${Object.keys(BINARY_READERS).join(', ')}`,
      );
    }
    if (size % reader.bytes !== 0)
      throw badRequest(
        `${where} binary_data_size ${size} is not a multiple of ${reader.bytes} bytes per ${String(datatype)} element`,
      );
    if (offset + size > binary.length) {
      throw badRequest(
        `${where} binary_data_size ${size} runs past the end of the binary data (${binary.length - offset} bytes left)`,
      );
    }
    // Counted against the limit and the declared shape before anything is expanded: one byte
    // of INT8 becomes an 8-byte JS number, so 8 MiB of body would be 64 MiB of array.
    const count = size / reader.bytes;
    const shape = own(raw, 'shape');
    // FP32 is copied byte for byte (no expansion): the JSON decoder's checks and words apply.
    const expands = datatype !== 'FP32';
    if (
      expands &&
      Array.isArray(shape) &&
      shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0) &&
      shape.reduce((a: number, d) => a * (d as number), 1) !== count
    ) {
      throw badRequest(
        `${where} has shape [${shape.join(', ')}] but binary_data_size ${size} holds ${count} ${String(datatype)} elements`,
      );
    }
    if (expands) elements += count;
    if (elements > maxElements)
      throw badRequest(
        `${where} brings the request to ${elements} binary elements; the limit is ${maxElements}`,
      );
    const data = binaryTensorData(datatype as string, binary.subarray(offset, offset + size));
    offset += size;
    const rest = Object.fromEntries(
      Object.entries(parameters).filter(([key]) => key !== 'binary_data_size'),
    );
    return {
      ...raw,
      data,
      ...(Object.keys(rest).length > 0 ? { parameters: rest } : { parameters: undefined }),
    };
  });
  if (binary !== undefined && offset !== binary.length) {
    throw badRequest(
      `the request carries ${binary.length} bytes of binary data but its inputs declare ${offset}`,
    );
  }
  return { ...json, inputs };
}

/** The outputs the client wants in binary form (by name), or 'all'. */
export function binaryOutputsWanted(json: unknown): Set<string> | 'all' {
  const wanted = new Set<string>();
  if (!isPlainObject(json)) return wanted;
  const parameters = own(json, 'parameters');
  if (isPlainObject(parameters) && own(parameters, 'binary_data_output') === true) return 'all';
  const outputs = own(json, 'outputs');
  if (Array.isArray(outputs)) {
    for (const raw of outputs as unknown[]) {
      if (!isPlainObject(raw)) continue;
      const p = own(raw, 'parameters');
      const name = own(raw, 'name');
      if (typeof name === 'string' && isPlainObject(p) && own(p, 'binary_data') === true)
        wanted.add(name);
    }
  }
  return wanted;
}

/** Moves the wanted outputs' data behind the JSON header; returns the header size and body. */
export function encodeBinaryResponse(
  response: InferResponse,
  wanted: Set<string> | 'all',
): { headerLength?: number; body: Buffer } {
  const chunks: Buffer[] = [];
  const outputs = response.outputs.map((output) => {
    if (wanted !== 'all' && !wanted.has(output.name)) return output;
    const values = (output.data as number[]).flat(Infinity as 1) as number[];
    const bytes = Buffer.from(Float32Array.from(values).buffer);
    chunks.push(bytes);
    const { data: _data, ...rest } = output;
    return {
      ...rest,
      parameters: { ...(output.parameters ?? {}), binary_data_size: bytes.length },
    };
  });
  if (chunks.length === 0) return { body: Buffer.from(JSON.stringify(response)) };
  const header = Buffer.from(JSON.stringify({ ...response, outputs }));
  return { headerLength: header.length, body: Buffer.concat([header, ...chunks]) };
}
