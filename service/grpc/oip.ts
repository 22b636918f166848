/**
 * The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, KServe's
 * `grpc_predict_v2.proto`): requests become the `$inference_request` shape the REST
 * adapter's validator checks, inference goes through the one data plane, outputs come back
 * as `raw_output_contents` (little-endian FP32), as Triton answers.
 */
import type { VersionSelector } from '../../connectors/sc/index.ts';
import { preparedInputs, type DataPlane } from '../dataplane/index.ts';
import { tensorRows, type LoggedInput, type Monitoring } from '../monitoring/index.ts';
import {
  decodeInferRequest,
  v2ModelMetadata,
  type DecodeLimits,
  type DecodedTensor,
  type OutputTensor,
} from '../protocols/index.ts';
import { badRequest, checkOutput, nameList, quote } from '../protocols/tensor.ts';
import { rawTensorData, wireShape, type JsonLikeInput } from './tensors.ts';
import type { CallContext } from './call.ts';

export interface OipOptions {
  dataPlane: DataPlane;
  monitoring: Monitoring;
  limits: DecodeLimits;
  serverVersion: string;
}

/** One `InferParameter` (a oneof) as it arrives from proto-loader. */
interface WireParameter {
  parameter_choice?: string;
  [choice: string]: unknown;
}

interface WireContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: number[];
  uint_contents: number[];
  uint64_contents: number[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

interface WireInput {
  name: string;
  datatype: string;
  shape: number[];
  parameters: Record<string, WireParameter>;
  contents: WireContents | null;
}

export interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, WireParameter>;
  inputs: WireInput[];
  outputs: { name: string; parameters: Record<string, WireParameter> }[];
  raw_input_contents: Buffer[];
}

/** The typed-contents field each datatype uses (FP16 and BF16 have none: raw only). */
const CONTENTS_FIELD: Record<string, keyof WireContents> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

function parameterValue(p: WireParameter): unknown {
  return p.parameter_choice === undefined ? undefined : p[p.parameter_choice];
}

function parameters(map: Record<string, WireParameter> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(map ?? {}).map(([k, p]) => [k, parameterValue(p)]));
}

/** `model_version` "" is the serving version; otherwise a version number, as in REST. */
export function versionSelector(
  version: string,
  where = 'model_version',
): VersionSelector | undefined {
  if (version === '') return undefined;
  if (!/^[1-9]\d{0,15}$/.test(version))
    throw badRequest(`${where} must be a version number like "1" or empty, got ${quote(version)}`);
  return { version: Number(version) };
}

/** The typed-contents fields, each once (several datatypes share one). */
const CONTENTS_FIELDS = [...new Set(Object.values(CONTENTS_FIELD))];

/** The values of an input's typed contents, from the one field its datatype uses. */
function typedData(input: WireInput, where: string): unknown[] {
  const contents = input.contents;
  if (contents === null) return [];
  const filled = CONTENTS_FIELDS.filter((f) => (contents[f]?.length ?? 0) > 0);
  if (filled.length === 0) return [];
  const field = Object.hasOwn(CONTENTS_FIELD, input.datatype)
    ? CONTENTS_FIELD[input.datatype]
    : undefined;
  if (field === undefined || filled.length > 1 || filled[0] !== field) {
    throw badRequest(
      `${where} (datatype ${quote(input.datatype)}) carries ${filled.join(', ')}; ${field ? `a ${input.datatype} tensor uses ${field}` : 'this datatype has no typed contents: send raw_input_contents'}`,
    );
  }
  return contents[field] as unknown[];
}

/** A ModelInferRequest -> the `$inference_request` the one V2 validator checks. */
export function inferRequestBody(
  request: ModelInferRequest,
  limits: DecodeLimits,
): Record<string, unknown> {
  const raw = request.raw_input_contents;
  if (raw.length > 0 && raw.length !== request.inputs.length) {
    throw badRequest(
      `the request has ${request.inputs.length} inputs but ${raw.length} raw_input_contents: when raw contents are used, every input has one, in order`,
    );
  }
  const inputs = request.inputs.map((input, i): JsonLikeInput => {
    const where = `input ${quote(input.name)}`;
    const shape = wireShape(input.shape, where);
    const extra = parameters(input.parameters);
    // The kserve SDK's gRPC client keeps REST's `binary_data_size` on inputs it sends as raw
    // contents: over gRPC the raw bytes are the binary data, so a size that matches them says
    // nothing more (Triton ignores it too).
    if (Object.hasOwn(extra, 'binary_data_size')) {
      const bytes = raw[i]?.length;
      if (bytes === undefined || extra.binary_data_size !== bytes) {
        throw badRequest(
          `${where} declares parameters.binary_data_size ${String(extra.binary_data_size)}, but ${bytes === undefined ? 'the request has no raw_input_contents' : `its raw_input_contents has ${bytes} bytes`}: send the bytes in raw_input_contents, or drop the parameter`,
        );
      }
      delete extra.binary_data_size;
    }
    const base = {
      name: input.name,
      datatype: input.datatype,
      shape,
      ...(Object.keys(extra).length > 0 ? { parameters: extra } : {}),
    };
    if (raw.length > 0) {
      if (typedData(input, where).length > 0)
        throw badRequest(`${where} has both contents and raw_input_contents: send one`);
      const data = rawTensorData(
        where,
        input.datatype,
        shape,
        raw[i] as Buffer,
        limits.maxElements,
      );
      return { ...base, data };
    }
    const values = typedData(input, where);
    const data = input.datatype === 'FP32' ? Float32Array.from(values as number[]) : values;
    return { ...base, data };
  });
  const top = parameters(request.parameters);
  return {
    ...(request.id !== '' ? { id: request.id } : {}),
    ...(Object.keys(top).length > 0 ? { parameters: top } : {}),
    inputs,
    ...(request.outputs.length > 0
      ? {
          outputs: request.outputs.map((o) => {
            const p = parameters(o.parameters);
            return { name: o.name, ...(Object.keys(p).length > 0 ? { parameters: p } : {}) };
          }),
        }
      : {}),
  };
}

function toFloat32(tensor: DecodedTensor): Float32Array {
  return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data);
}

function littleEndianBytes(data: Float32Array): Buffer {
  const bytes = Buffer.allocUnsafe(data.length * 4);
  for (let i = 0; i < data.length; i++) bytes.writeFloatLE(data[i] as number, i * 4);
  return bytes;
}

/** The outputs asked for (all, in the model's order, when none were named). */
export function chooseOutputs(
  outputs: readonly OutputTensor[],
  requested: readonly string[] | undefined,
): OutputTensor[] {
  if (requested === undefined || requested.length === 0) return [...outputs];
  return requested.map((name) => {
    const output = outputs.find((o) => o.name === name);
    if (output === undefined) {
      throw badRequest(
        `unknown output ${quote(name)}; the model's outputs are: ${nameList(outputs.map((o) => o.name))}`,
      );
    }
    return output;
  });
}

export function createOipHandlers(options: OipOptions) {
  const { dataPlane, monitoring, limits } = options;
  return {
    ServerLive: () => ({ live: dataPlane.live() }),
    ServerReady: () => ({ ready: dataPlane.ready() }),
    ServerMetadata: () => ({
      name: 'mscr',
      version: options.serverVersion,
      extensions: [] as string[],
    }),
    ModelReady: (request: { name: string; version: string }, ctx: CallContext) => {
      ctx.model = request.name;
      return {
        ready: dataPlane.modelReady(request.name, versionSelector(request.version, 'version')),
      };
    },
    ModelMetadata: (request: { name: string; version: string }, ctx: CallContext) => {
      ctx.model = request.name;
      const { version, manifest } = dataPlane.manifest(
        request.name,
        versionSelector(request.version, 'version'),
      );
      ctx.version = String(version);
      const available = dataPlane
        .status(request.name)
        .versions.filter((v) => v.state === 'AVAILABLE')
        .map((v) => v.version);
      return v2ModelMetadata(manifest, available);
    },
    ModelInfer: async (request: ModelInferRequest, ctx: CallContext) => {
      ctx.model = request.model_name;
      const selector = versionSelector(request.model_version);
      let decoded: ReturnType<typeof decodeInferRequest> | undefined;
      let rows: LoggedInput[] = [];
      const result = await dataPlane.infer(request.model_name, selector, (manifest) => {
        decoded = decodeInferRequest(inferRequestBody(request, limits), manifest, limits);
        const first = decoded.inputs[0] as DecodedTensor;
        rows = tensorRows(toFloat32(first), first.shape);
        // Every input reaches the engine by name.
        return preparedInputs(decoded.inputs);
      });
      ctx.version = String(result.version);
      const all: OutputTensor[] = result.outputs.map((o) => ({
        name: o.name,
        shape: o.shape,
        data: o.data,
      }));
      const chosen = chooseOutputs(all, decoded?.outputs);
      chosen.forEach((o) => checkOutput(o));
      const ids = monitoring.remember(result, (row) => rows[row]);
      return {
        model_name: result.model,
        model_version: String(result.version),
        // Every response has an id: the caller's, else this call's request id.
        id: decoded?.id ?? ctx.requestId,
        parameters: ids.length > 0 ? { prediction_ids: { string_param: ids.join(',') } } : {},
        outputs: chosen.map((o) => ({ name: o.name, datatype: 'FP32', shape: [...o.shape] })),
        raw_output_contents: chosen.map((o) => littleEndianBytes(o.data)),
      };
    },
  };
}
