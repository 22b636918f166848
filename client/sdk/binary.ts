/**
 * The Open Inference Protocol's binary tensor data extension, client side: numeric inputs go
 * as raw little-endian bytes after a JSON header of `Inference-Header-Content-Length` bytes,
 * and outputs come back the same way (what Triton's `tritonclient` does by default). It saves
 * the JSON encoding of every number, which matters for image-sized tensors.
 */
import type {
  InferRequest,
  InferResponse,
  TensorData,
  TensorElement,
  V2Datatype,
} from '../../connectors/sc/index.ts';
import { MscrClientError } from './errors.ts';

export const INFERENCE_HEADER = 'Inference-Header-Content-Length';

type Codec = {
  bytes: number;
  write: (view: DataView, offset: number, value: number) => void;
  read: (view: DataView, offset: number) => number;
};

const CODECS: Partial<Record<V2Datatype, Codec>> = {
  FP32: {
    bytes: 4,
    write: (v, o, x) => v.setFloat32(o, x, true),
    read: (v, o) => v.getFloat32(o, true),
  },
  FP64: {
    bytes: 8,
    write: (v, o, x) => v.setFloat64(o, x, true),
    read: (v, o) => v.getFloat64(o, true),
  },
  INT8: { bytes: 1, write: (v, o, x) => v.setInt8(o, x), read: (v, o) => v.getInt8(o) },
  INT16: {
    bytes: 2,
    write: (v, o, x) => v.setInt16(o, x, true),
    read: (v, o) => v.getInt16(o, true),
  },
  INT32: {
    bytes: 4,
    write: (v, o, x) => v.setInt32(o, x, true),
    read: (v, o) => v.getInt32(o, true),
  },
  UINT8: { bytes: 1, write: (v, o, x) => v.setUint8(o, x), read: (v, o) => v.getUint8(o) },
  UINT16: {
    bytes: 2,
    write: (v, o, x) => v.setUint16(o, x, true),
    read: (v, o) => v.getUint16(o, true),
  },
  UINT32: {
    bytes: 4,
    write: (v, o, x) => v.setUint32(o, x, true),
    read: (v, o) => v.getUint32(o, true),
  },
  BOOL: { bytes: 1, write: (v, o, x) => v.setUint8(o, x ? 1 : 0), read: (v, o) => v.getUint8(o) },
};

function flatten(data: TensorData): TensorElement[] {
  return (data as unknown[]).flat(Infinity) as TensorElement[];
}

/** A JSON infer request -> the binary form: body bytes and the JSON header's length. */
export function encodeBinaryInferRequest(request: InferRequest): {
  body: Uint8Array;
  headerLength: number;
} {
  const chunks: Uint8Array[] = [];
  const inputs = request.inputs.map((input, i) => {
    const codec = CODECS[input.datatype];
    if (codec === undefined) return input; // BYTES and the like stay JSON
    const values = flatten(input.data);
    const bytes = new Uint8Array(values.length * codec.bytes);
    const view = new DataView(bytes.buffer);
    values.forEach((value, e) => {
      const number = typeof value === 'boolean' ? Number(value) : value;
      if (typeof number !== 'number') {
        throw new MscrClientError(
          'input',
          `inputs[${i}] (${input.name}) is ${input.datatype} but element ${e} is ${JSON.stringify(value)}`,
        );
      }
      codec.write(view, e * codec.bytes, number);
    });
    chunks.push(bytes);
    const { data: _data, ...rest } = input;
    return { ...rest, parameters: { ...(input.parameters ?? {}), binary_data_size: bytes.length } };
  });
  const outputs = request.outputs?.map((output) => ({
    ...output,
    parameters: { ...(output.parameters ?? {}), binary_data: true },
  }));
  const header = new TextEncoder().encode(
    JSON.stringify({
      ...request,
      inputs,
      ...(outputs !== undefined ? { outputs } : {}),
      parameters: {
        ...(request.parameters ?? {}),
        ...(outputs === undefined ? { binary_data_output: true } : {}),
      },
    }),
  );
  const body = new Uint8Array(header.length + chunks.reduce((n, c) => n + c.length, 0));
  body.set(header, 0);
  let offset = header.length;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return { body, headerLength: header.length };
}

/**
 * An infer answer -> `InferResponse` with every output's `data` filled in (flat, row-major),
 * whether the server sent it as JSON or as binary after the header.
 */
export function decodeInferResponse(body: Uint8Array, headerLength: string | null): InferResponse {
  const length = headerLength === null ? body.length : Number(headerLength);
  if (!Number.isSafeInteger(length) || length < 0 || length > body.length) {
    throw new MscrClientError(
      'protocol',
      `${INFERENCE_HEADER} is ${String(headerLength)}, but the body has ${body.length} bytes`,
    );
  }
  let response: InferResponse;
  try {
    response = JSON.parse(new TextDecoder().decode(body.subarray(0, length))) as InferResponse;
  } catch (error) {
    throw new MscrClientError('protocol', 'the inference answer is not JSON', { cause: error });
  }
  if (headerLength === null) return response;
  let offset = length;
  const outputs = response.outputs.map((output) => {
    const size = output.parameters?.binary_data_size;
    if (typeof size !== 'number') return output;
    const codec = CODECS[output.datatype];
    if (codec === undefined || offset + size > body.length) {
      throw new MscrClientError(
        'protocol',
        `output ${output.name}: cannot read ${size} bytes of ${output.datatype} binary data`,
      );
    }
    const view = new DataView(body.buffer, body.byteOffset + offset, size);
    const data = Array.from({ length: size / codec.bytes }, (_, e) =>
      codec.read(view, e * codec.bytes),
    );
    offset += size;
    const { binary_data_size: _size, ...parameters } = output.parameters ?? {};
    const { parameters: _parameters, ...rest } = output;
    return { ...rest, data, ...(Object.keys(parameters).length > 0 ? { parameters } : {}) };
  });
  return { ...response, outputs };
}
