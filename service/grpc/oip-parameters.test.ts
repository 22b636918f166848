/**
 * `binary_data_size` on a gRPC input: the kserve SDK's gRPC client sends it beside
 * raw_input_contents (found by kserve-client.test.ts). A size that matches the raw bytes is
 * dropped; a size without raw contents, or that disagrees with them, is a bad_request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError } from '../../connectors/errors.ts';
import { DEFAULT_DECODE_LIMITS } from '../protocols/index.ts';
import { inferRequestBody, type ModelInferRequest } from './oip.ts';

function request(size: number, raw: Buffer[]): ModelInferRequest {
  return {
    model_name: 'toy',
    model_version: '',
    id: '',
    parameters: {},
    inputs: [
      {
        name: 'features',
        datatype: 'FP32',
        shape: [1, 4],
        parameters: { binary_data_size: { parameter_choice: 'int64_param', int64_param: size } },
        contents: null,
      },
    ],
    outputs: [],
    raw_input_contents: raw,
  };
}

test('a binary_data_size that matches the raw contents is dropped', () => {
  const bytes = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
  const body = inferRequestBody(request(16, [bytes]), DEFAULT_DECODE_LIMITS);
  const [input] = body.inputs as Record<string, unknown>[];
  assert.equal(input?.parameters, undefined);
  assert.deepEqual(Array.from(input?.data as Float32Array), [1, 2, 3, 4]);
});

test('a binary_data_size without raw contents, or of another size, is a bad_request', () => {
  const bytes = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
  assert.throws(
    () => inferRequestBody(request(12, [bytes]), DEFAULT_DECODE_LIMITS),
    (e: unknown) => isMscrError(e, 'bad_request') && /has 16 bytes/.test(e.message),
  );
  assert.throws(
    () => inferRequestBody(request(16, []), DEFAULT_DECODE_LIMITS),
    (e: unknown) => isMscrError(e, 'bad_request') && /no raw_input_contents/.test(e.message),
  );
});
