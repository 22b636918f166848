import { test, describe, beforeEach, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { isMscrError } from '../../connectors/errors.ts';
import { BACKEND_ENV_VAR, currentBackend, initBackend, parseBackendPreference } from './index.ts';
import { CONV2D_BACKPROP_FILTER } from './conv2d-backprop-filter.ts';

const savedEnv = process.env[BACKEND_ENV_VAR];

describe('initBackend', () => {
  beforeEach(() => {
    delete process.env[BACKEND_ENV_VAR];
  });
  after(() => {
    if (savedEnv === undefined) delete process.env[BACKEND_ENV_VAR];
    else process.env[BACKEND_ENV_VAR] = savedEnv;
  });

  test("'auto' falls back to wasm when tfjs-node is absent, with the conv gradient kernel", async () => {
    const info = await initBackend();
    assert.equal(info.kind, 'wasm');
    assert.equal(info.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.match(info.reason, /@tensorflow\/tfjs-node is not installed/);
    assert.equal(typeof info.threads, 'number');
    assert.equal(typeof info.simd, 'boolean');
    assert.notEqual(tf.getKernel(CONV2D_BACKPROP_FILTER, 'wasm'), undefined);
    assert.equal(currentBackend(), info);
  });

  test('the same preference again returns the current info', async () => {
    const first = await initBackend('auto');
    assert.equal(await initBackend('auto'), first);
  });

  test('switching between wasm and cpu in one process', async () => {
    const cpu = await initBackend('cpu');
    assert.deepEqual([cpu.kind, cpu.name, tf.getBackend()], ['cpu', 'cpu', 'cpu']);
    assert.match(cpu.reason, /explicitly/);
    const wasm = await initBackend('wasm');
    assert.deepEqual([wasm.kind, tf.getBackend()], ['wasm', 'wasm']);
    // Someone else switching behind our back makes the next call re-activate.
    await tf.setBackend('cpu');
    assert.equal(currentBackend(), undefined);
    await initBackend('wasm');
    assert.equal(tf.getBackend(), 'wasm');
  });

  test('concurrent calls are serialised; the last one wins', async () => {
    const [a, b] = await Promise.all([initBackend('cpu'), initBackend('wasm')]);
    assert.equal(a.kind, 'cpu');
    assert.equal(b.kind, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
  });

  test("an explicit 'tensorflow' without tfjs-node is a config error saying how to install it", async () => {
    const before = tf.getBackend();
    await assert.rejects(initBackend('tensorflow'), (error: unknown) => {
      assert.ok(isMscrError(error, 'config'));
      assert.match(error.message, /npm install @tensorflow\/tfjs-node/);
      return true;
    });
    assert.equal(tf.getBackend(), before);
  });

  test(`'auto' honours ${BACKEND_ENV_VAR}`, async () => {
    process.env[BACKEND_ENV_VAR] = 'cpu';
    const info = await initBackend('auto');
    assert.equal(info.kind, 'cpu');
    assert.match(info.reason, /MSCR_BACKEND=cpu/);

    process.env[BACKEND_ENV_VAR] = ' WASM ';
    assert.equal((await initBackend('auto')).kind, 'wasm');

    process.env[BACKEND_ENV_VAR] = 'tensorflow';
    await assert.rejects(initBackend('auto'), (error: unknown) => isMscrError(error, 'config'));

    process.env[BACKEND_ENV_VAR] = 'gpu';
    await assert.rejects(initBackend('auto'), (error: unknown) => isMscrError(error, 'config'));

    // An explicit preference ignores the variable.
    assert.equal((await initBackend('wasm')).kind, 'wasm');
  });

  test("removes the Emscripten glue's re-throwing process handlers", async () => {
    await initBackend('wasm');
    const sources = [
      ...process.listeners('uncaughtException'),
      ...process.listeners('unhandledRejection'),
    ].map((listener) => Function.prototype.toString.call(listener));
    assert.ok(
      sources.every(
        (source) => !/ExitStatus|^function\s*\(reason\)\s*\{\s*throw reason/.test(source),
      ),
    );
  });

  test('parseBackendPreference', () => {
    assert.equal(parseBackendPreference('Auto'), 'auto');
    assert.equal(parseBackendPreference('cpu'), 'cpu');
    assert.throws(
      () => parseBackendPreference('webgl', '--backend'),
      (error: unknown) => isMscrError(error, 'config') && /--backend/.test(error.message),
    );
  });
});
