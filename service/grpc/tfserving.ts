/**
 * TF Serving's gRPC API, so existing TF Serving callers switch without code changes:
 * `tensorflow.serving.PredictionService` (Predict, GetModelMetadata) and
 * `tensorflow.serving.ModelService` (GetModelStatus), from the vendored official protos.
 * A `TensorProto` becomes the `$inference_request` input the one V2 validator checks; the
 * model's single signature is `serving_default`, as a Keras model exported by TF has.
 */
import { MscrError } from '../../connectors/errors.ts';
import type { TensorDtype } from '../../connectors/ms/manifest.ts';
import type { VersionSelector } from '../../connectors/sc/index.ts';
import { preparedInputs, type DataPlane } from '../dataplane/index.ts';
import { decodeInferRequest, type DecodeLimits } from '../protocols/index.ts';
import { badRequest, checkOutput, quote } from '../protocols/tensor.ts';
import type { CallContext } from './call.ts';
import { chooseOutputs } from './oip.ts';
import { loadProtos } from './protos.ts';
import { rawTensorData, wireShape } from './tensors.ts';

export const DEFAULT_SIGNATURE = 'serving_default';
const PREDICT_METHOD = 'tensorflow/serving/predict';

interface ModelSpec {
  name: string;
  version?: { value: number } | null;
  version_label?: string;
  signature_name: string;
  version_choice?: 'version' | 'version_label';
}

interface TensorProto {
  dtype: string;
  tensor_shape: { dim: { size: number }[]; unknown_rank: boolean } | null;
  tensor_content: Buffer;
  [field: string]: unknown;
}

/** TF dtype -> the V2 datatype and the typed field that carries its values. */
const DTYPES: Record<string, { datatype: string; field: string }> = {
  DT_FLOAT: { datatype: 'FP32', field: 'float_val' },
  DT_DOUBLE: { datatype: 'FP64', field: 'double_val' },
  DT_INT32: { datatype: 'INT32', field: 'int_val' },
  DT_INT16: { datatype: 'INT16', field: 'int_val' },
  DT_INT8: { datatype: 'INT8', field: 'int_val' },
  DT_UINT8: { datatype: 'UINT8', field: 'int_val' },
  DT_UINT16: { datatype: 'UINT16', field: 'int_val' },
  DT_INT64: { datatype: 'INT64', field: 'int64_val' },
  DT_UINT32: { datatype: 'UINT32', field: 'uint32_val' },
  DT_UINT64: { datatype: 'UINT64', field: 'uint64_val' },
  DT_BOOL: { datatype: 'BOOL', field: 'bool_val' },
  DT_HALF: { datatype: 'FP16', field: 'half_val' },
  DT_STRING: { datatype: 'BYTES', field: 'string_val' },
};

const TF_DTYPE_OF: Record<TensorDtype, string> = {
  float32: 'DT_FLOAT',
  int32: 'DT_INT32',
  bool: 'DT_BOOL',
};

export function selectorOfSpec(spec: ModelSpec | null | undefined): VersionSelector | undefined {
  if (!spec) return undefined;
  if (spec.version_choice === 'version' && spec.version) {
    const version = Number(spec.version.value);
    if (!Number.isSafeInteger(version) || version < 1)
      throw badRequest(`model_spec.version must be a positive version number, got ${version}`);
    return { version };
  }
  if (spec.version_choice === 'version_label' && spec.version_label)
    return { label: spec.version_label };
  return undefined;
}

function modelNameOf(spec: ModelSpec | null | undefined): string {
  if (!spec || spec.name === '') throw badRequest('model_spec.name is missing: name the model');
  return spec.name;
}

function checkSignature(spec: ModelSpec): void {
  if (spec.signature_name !== '' && spec.signature_name !== DEFAULT_SIGNATURE) {
    throw badRequest(
      `signature ${quote(spec.signature_name)} is not served; the model's one signature is ${quote(DEFAULT_SIGNATURE)} (or leave signature_name empty)`,
    );
  }
}

/** One TensorProto -> `{name, datatype, shape, data}` for the V2 validator. */
export function tensorProtoInput(name: string, tensor: TensorProto, limits: DecodeLimits) {
  const where = `input ${quote(name)}`;
  const kind = Object.hasOwn(DTYPES, tensor.dtype) ? DTYPES[tensor.dtype] : undefined;
  if (kind === undefined) {
    throw badRequest(
      `${where} has dtype ${tensor.dtype}; send DT_FLOAT (or another numeric dtype the model accepts)`,
    );
  }
  if (!tensor.tensor_shape || tensor.tensor_shape.unknown_rank)
    throw badRequest(`${where} has no tensor_shape: give every dimension`);
  const shape = wireShape(
    tensor.tensor_shape.dim.map((d) => d.size),
    where,
  );
  const typed = (tensor[kind.field] as unknown[] | undefined) ?? [];
  if (tensor.tensor_content.length > 0) {
    if (typed.length > 0)
      throw badRequest(`${where} has both tensor_content and ${kind.field}: send one`);
    return {
      name,
      datatype: kind.datatype,
      shape,
      data: rawTensorData(where, kind.datatype, shape, tensor.tensor_content, limits.maxElements),
    };
  }
  return {
    name,
    datatype: kind.datatype,
    shape,
    data: kind.datatype === 'FP32' ? Float32Array.from(typed as number[]) : typed,
  };
}

function tensorInfo(spec: { name: string; dtype: TensorDtype; shape: number[] }) {
  return {
    name: `${spec.name}:0`,
    dtype: TF_DTYPE_OF[spec.dtype],
    tensor_shape: { dim: spec.shape.map((size) => ({ size })), unknown_rank: false },
  };
}

export interface TfServingOptions {
  dataPlane: DataPlane;
  limits: DecodeLimits;
}

export function createTfServingHandlers(options: TfServingOptions) {
  const { dataPlane, limits } = options;
  return {
    Predict: async (
      request: {
        model_spec: ModelSpec | null;
        inputs: Record<string, TensorProto>;
        output_filter: string[];
      },
      ctx: CallContext,
    ) => {
      const model = modelNameOf(request.model_spec);
      ctx.model = model;
      checkSignature(request.model_spec as ModelSpec);
      const body = {
        inputs: Object.entries(request.inputs).map(([name, tensor]) =>
          tensorProtoInput(name, tensor, limits),
        ),
      };
      let decoded: ReturnType<typeof decodeInferRequest> | undefined;
      const result = await dataPlane.infer(
        model,
        selectorOfSpec(request.model_spec),
        (manifest) => {
          decoded = decodeInferRequest(body, manifest, limits);
          // Every input reaches the engine by name.
          return preparedInputs(decoded.inputs);
        },
      );
      ctx.version = String(result.version);
      const chosen = chooseOutputs(
        result.outputs.map((o) => ({ name: o.name, shape: o.shape, data: o.data })),
        request.output_filter,
      );
      return {
        model_spec: {
          name: model,
          version: { value: result.version },
          signature_name: DEFAULT_SIGNATURE,
        },
        outputs: Object.fromEntries(
          chosen.map((o) => {
            checkOutput(o);
            return [
              o.name,
              {
                dtype: 'DT_FLOAT',
                tensor_shape: { dim: o.shape.map((size) => ({ size })), unknown_rank: false },
                float_val: Array.from(o.data),
              },
            ];
          }),
        ),
      };
    },

    GetModelMetadata: (
      request: { model_spec: ModelSpec | null; metadata_field: string[] },
      ctx: CallContext,
    ) => {
      const model = modelNameOf(request.model_spec);
      ctx.model = model;
      if (request.metadata_field.length === 0)
        throw badRequest('metadata_field is empty: ask for "signature_def"');
      const unknown = request.metadata_field.find((f) => f !== 'signature_def');
      if (unknown !== undefined)
        throw badRequest(
          `metadata field ${quote(unknown)} is not supported; ask for "signature_def"`,
        );
      const { version, manifest } = dataPlane.manifest(model, selectorOfSpec(request.model_spec));
      ctx.version = String(version);
      const { signatureDefMap } = loadProtos();
      const signatureDef = {
        inputs: Object.fromEntries(manifest.inputs.map((s) => [s.name, tensorInfo(s)])),
        outputs: Object.fromEntries(manifest.outputs.map((s) => [s.name, tensorInfo(s)])),
        method_name: PREDICT_METHOD,
      };
      const value = signatureDefMap
        .encode(
          signatureDefMap.fromObject({ signature_def: { [DEFAULT_SIGNATURE]: signatureDef } }),
        )
        .finish();
      return {
        model_spec: { name: model, version: { value: version }, signature_name: '' },
        metadata: {
          signature_def: {
            type_url: 'type.googleapis.com/tensorflow.serving.SignatureDefMap',
            value: Buffer.from(value),
          },
        },
      };
    },

    GetModelStatus: (request: { model_spec: ModelSpec | null }, ctx: CallContext) => {
      const model = modelNameOf(request.model_spec);
      ctx.model = model;
      const status = dataPlane.status(model);
      const selector = selectorOfSpec(request.model_spec);
      let versions = status.versions;
      if (selector !== undefined) {
        const version = 'version' in selector ? selector.version : status.aliases[selector.label];
        if (version === undefined)
          throw new MscrError(
            'not_found',
            `model ${model} has no label ${quote('label' in selector ? selector.label : '')}`,
          );
        versions = versions.filter((v) => v.version === version);
        if (versions.length === 0)
          throw new MscrError(
            'not_found',
            `model ${model} has no version ${version} loaded or loading`,
          );
      }
      return {
        model_version_status: versions.map((v) => ({
          version: v.version,
          // FAILED is TF Serving's END with an error status.
          state: v.state === 'FAILED' ? 'END' : v.state,
          status: v.error
            ? { error_code: 'UNKNOWN', error_message: v.error }
            : { error_code: 'OK', error_message: '' },
        })),
      };
    },
  };
}
