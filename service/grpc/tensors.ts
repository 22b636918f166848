/**
 * gRPC tensors -> the request shape the one V2 validator (`decodeInferRequest`) checks:
 * `{name, datatype, shape, data}`. Raw little-endian bytes (`raw_input_contents`, TF
 * Serving's `tensor_content`) must hold exactly shape x element-size bytes; typed contents
 * must use the field of their datatype. Nothing here knows a model: the validator checks
 * names, datatypes and shapes against the manifest afterwards.
 */
import { binaryElementBytes, binaryTensorData } from '../protocols/v2-binary.ts';
import { badRequest, quote, shapeText } from '../protocols/tensor.ts';

export interface JsonLikeInput {
  name: string;
  datatype: string;
  shape: number[];
  data: Float32Array | unknown[];
  parameters?: Record<string, unknown>;
}

/** A shape from the wire: int64 dimensions (numbers here), checked to be integers. */
export function wireShape(shape: readonly unknown[], where: string): number[] {
  return shape.map((dim, i) => {
    const value = Number(dim);
    if (!Number.isSafeInteger(value))
      throw badRequest(`${where} shape[${i}] is ${String(dim)}; dimensions are integers`);
    return value;
  });
}

/**
 * Raw bytes of one tensor -> its values, after checking that the byte count is what the
 * shape and datatype say (a request that lies about its sizes is a 400, never a crash).
 */
export function rawTensorData(
  where: string,
  datatype: string,
  shape: readonly number[],
  bytes: Uint8Array,
  maxElements: number,
): Float32Array | number[] {
  const size = binaryElementBytes(datatype);
  if (size === undefined) {
    throw badRequest(
      `${where} has datatype ${quote(datatype)}, which is not accepted as raw bytes; use FP32, FP64, INT8-INT64, UINT8-UINT32 or BOOL`,
    );
  }
  let elements = 1;
  for (const dim of shape) {
    if (dim < 0) throw badRequest(`${where} has shape ${shapeText(shape)}; dimensions are >= 0`);
    elements *= dim;
    if (elements > maxElements) {
      throw badRequest(
        `${where} has shape ${shapeText(shape)}, more than the ${maxElements} elements a request may carry`,
      );
    }
  }
  if (bytes.length !== elements * size) {
    throw badRequest(
      `${where} carries ${bytes.length} bytes, but shape ${shapeText(shape)} of ${datatype} needs ${elements * size} (${elements} x ${size})`,
    );
  }
  return binaryTensorData(datatype, bytes);
}
