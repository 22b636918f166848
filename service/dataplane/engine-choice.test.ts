/**
 * The manifest's engine fields: old (tfjs-only) manifests stay valid and mean what they meant;
 * ONNX manifests and tfjs manifests with an extra ONNX artifact validate; and the service's
 * engine choice follows `--engine` over the forms a version has.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleDraft } from '../../connectors/store/contract-fixtures.ts';
import { chooseRuntime, filesFor } from './engine-choice.ts';
import {
  engineArtifacts,
  validateManifest,
  type ModelManifest,
} from '../../connectors/ms/manifest.ts';

const FILE = { sha256: 'a'.repeat(64), size: 10 };

function manifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...sampleDraft('m'),
    schemaVersion: 1,
    version: 1,
    createdAt: new Date(0).toISOString(),
    files: { 'model.json': FILE, 'weights.bin': FILE },
    ...extra,
  };
}

const onnxFramework = { name: 'onnx', version: '1.30.0', format: 'onnx', opset: 17 };

describe('manifest engines', () => {
  test('a manifest written before ONNX support is valid and serves on TF.js from model.json', () => {
    const old = validateManifest(manifest());
    assert.equal(old.artifacts, undefined);
    assert.deepEqual([...engineArtifacts(old)], [['tfjs', { file: 'model.json' }]]);
    for (const preference of ['auto', 'tfjs', 'onnx'] as const) {
      assert.deepEqual(chooseRuntime(old, preference), { engine: 'tfjs', file: 'model.json' });
    }
  });

  test('an ONNX manifest serves its model.onnx, feeding and reading the named tensors', () => {
    const onnx = validateManifest(
      manifest({ framework: onnxFramework, files: { 'model.onnx': FILE } }),
    );
    assert.deepEqual(chooseRuntime(onnx, 'tfjs'), {
      engine: 'onnx',
      file: 'model.onnx',
      input: 'image',
      output: 'probabilities',
    });
    const files = new Map([
      ['model.onnx', new Uint8Array(1)],
      ['notes.txt', new Uint8Array(2)],
    ]);
    assert.deepEqual(
      [...filesFor(chooseRuntime(onnx, 'auto'), onnx, files).keys()],
      ['model.onnx'],
    );
  });

  test('a TF.js version with an ONNX form: auto and onnx pick ONNX, tfjs picks TF.js', () => {
    const both = validateManifest(
      manifest({
        files: { 'model.json': FILE, 'weights.bin': FILE, 'model.onnx': FILE },
        artifacts: { onnx: { file: 'model.onnx', input: 'x', output: 'y' } },
      }),
    ) as ModelManifest;
    assert.deepEqual(chooseRuntime(both, 'auto'), {
      engine: 'onnx',
      file: 'model.onnx',
      input: 'x',
      output: 'y',
    });
    assert.equal(chooseRuntime(both, 'onnx').engine, 'onnx');
    assert.deepEqual(chooseRuntime(both, 'tfjs'), { engine: 'tfjs', file: 'model.json' });
    const files = new Map(
      ['model.json', 'weights.bin', 'model.onnx'].map((f) => [f, new Uint8Array(1)]),
    );
    assert.deepEqual(
      [...filesFor(chooseRuntime(both, 'tfjs'), both, files).keys()],
      ['model.json', 'weights.bin'],
    );
  });

  test('invalid engine fields are refused with what is wrong', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ framework: { name: 'pytorch', version: '2', format: 'pt' } }, /framework must be/],
      [{ framework: { ...onnxFramework, opset: -1 } }, /opset: integer >= 0/],
      [{ framework: { name: 'tfjs', version: '4', format: 'saved-model' } }, /framework must be/],
      [
        { artifacts: { onnx: { file: 'model.onnx' } } },
        /artifacts.onnx.file "model.onnx" is not in files/,
      ],
      [{ artifacts: { torch: { file: 'model.json' } } }, /unknown engine/],
      [{ artifacts: { onnx: 'model.onnx' } }, /must be \{file, input\?, output\?\}/],
      [
        { framework: onnxFramework, files: { 'other.onnx': FILE }, artifacts: {} },
        /must list the onnx artifact \(no model.onnx in files\)/,
      ],
      [{ preprocessing: { kind: 'features', columns: ['a', 'a'] } }, /must not repeat/],
      [{ preprocessing: { kind: 'features', columns: [] } }, /non-empty array/],
      [
        { preprocessing: { ...(sampleDraft('m').preprocessing as object), layout: 'CHW' } },
        /layout must be "NHWC" or "NCHW"/,
      ],
      [
        { preprocessing: { ...(sampleDraft('m').preprocessing as object), scale: 0 } },
        /scale must be a positive number/,
      ],
      [{ task: 'segmentation' }, /task must be one of/],
    ];
    for (const [extra, message] of cases) {
      assert.throws(() => validateManifest(manifest(extra)), message, JSON.stringify(extra));
    }
  });

  test('the imported tasks and preprocessing kinds validate', () => {
    for (const task of ['tabular-classification', 'object-detection', 'raw']) {
      validateManifest(manifest({ task, preprocessing: { kind: 'none' } }));
    }
    validateManifest(
      manifest({ task: 'regression', preprocessing: { kind: 'features', columns: ['a', 'b'] } }),
    );
  });
});
