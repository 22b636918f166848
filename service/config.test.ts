import os from 'node:os';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError } from '../connectors/errors.ts';
import { configTextFromEnv, DEFAULTS, resolveConfig } from './config.ts';

test('defaults, then environment, then flags', () => {
  assert.deepEqual(resolveConfig(), DEFAULTS);
  const env = configTextFromEnv({
    MSCR_STORE: 'file:///srv/models',
    MSCR_WORKERS: '3',
    PORT: '9000',
    MSCR_MODELS: 'a, b',
  });
  const config = resolveConfig(env, { port: '9100', pollInterval: '0.5' });
  assert.equal(config.store, 'file:///srv/models');
  assert.equal(config.workers, 3);
  assert.equal(config.port, 9100);
  assert.equal(config.pollIntervalMs, 500);
  assert.deepEqual(config.models, ['a', 'b']);
  assert.equal(resolveConfig(configTextFromEnv({ PORT: '7000' })).port, 7000);
});

test('the content cache is on by default for cloud stores only, and can be moved or turned off', () => {
  assert.equal(resolveConfig({ store: 'file:///srv/models' }).cacheDir, '');
  assert.match(resolveConfig({ store: 's3://bucket/models' }).cacheDir, /mscr-cache$/);
  assert.match(resolveConfig({ store: 'gs://bucket' }).cacheDir, /mscr-cache$/);
  const env = configTextFromEnv({ MSCR_STORE: 'gs://b', MSCR_CACHE_DIR: '/var/cache/mscr' });
  assert.equal(resolveConfig(env).cacheDir, '/var/cache/mscr');
  assert.equal(resolveConfig(env, { cacheDir: 'off' }).cacheDir, '');
  assert.equal(resolveConfig({ cacheMaxBytes: '1073741824' }).cacheMaxBytes, 1024 ** 3);
  assert.throws(
    () => resolveConfig({ cacheMaxBytes: '5GB' }),
    /cache max bytes must be an integer/,
  );
});

test('invalid values are config errors that say what to fix', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ port: '99999' }, /port must be an integer from 0 to 65535, got "99999"/],
    [{ port: 'http' }, /port must be an integer/],
    [{ workers: '0' }, /workers must be an integer from 1/],
    [{ pollInterval: '-1' }, /poll interval/],
    [{ maxBatchSize: '1.5' }, /max batch size must be an integer/],
    [{ policy: 'newest' }, /policy must be latest, latest:N, all, specific:1,2 or alias:NAME/],
    [{ logLevel: 'loud' }, /log level must be one of debug, info, warn, error, silent/],
    [{ backend: 'gpu' }, /backend must be auto, tensorflow, wasm or cpu/],
    [{ models: 'ok,../etc' }, /invalid model name/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => resolveConfig(text),
      (e: unknown) => isMscrError(e) && message.test(e.message),
      JSON.stringify(text),
    );
  }
});

test('the admin token and the prediction log sizes come from the environment or flags', () => {
  assert.equal(resolveConfig().adminToken, '', 'retraining over HTTP is off by default');
  const env = configTextFromEnv({
    MSCR_ADMIN_TOKEN: 'a'.repeat(32),
    MSCR_PREDICTION_LOG_ENTRIES: '500',
    MSCR_PREDICTION_LOG_BYTES: String(8 * 1024 * 1024),
  });
  const config = resolveConfig(env);
  assert.equal(config.adminToken, 'a'.repeat(32));
  assert.deepEqual(config.predictionLog, { maxEntries: 500, maxBytes: 8 * 1024 * 1024 });
  assert.equal(resolveConfig(env, { adminToken: 'b'.repeat(16) }).adminToken, 'b'.repeat(16));
  assert.equal(resolveConfig({ predictionLogEntries: '0' }).predictionLog.maxEntries, 0);
  for (const [text, message] of [
    [{ adminToken: 'short' }, /at least 16 characters/],
    [{ adminToken: 'has spaces in it, sixteen+' }, /without spaces/],
    [{ predictionLogEntries: '-1' }, /prediction log entries must be an integer/],
    [{ predictionLogBytes: '1000' }, /prediction log bytes must be an integer from 1048576/],
  ] as const) {
    assert.throws(
      () => resolveConfig(text),
      (e: unknown) => isMscrError(e) && message.test(e.message) && !e.message.includes('short'),
      JSON.stringify(text),
    );
  }
});

test('engine and ONNX threads: defaults fit the cores, env and flags override', () => {
  assert.equal(resolveConfig().engine, 'auto');
  const cores = os.availableParallelism();
  assert.equal(resolveConfig({ workers: '1' }).onnxThreads, Math.max(1, cores));
  assert.equal(resolveConfig({ workers: String(cores * 2) }).onnxThreads, 1);
  const env = configTextFromEnv({ MSCR_ENGINE: 'onnx', MSCR_ONNX_THREADS: '3' });
  assert.deepEqual([resolveConfig(env).engine, resolveConfig(env).onnxThreads], ['onnx', 3]);
  assert.equal(resolveConfig(env, { engine: 'tfjs' }).engine, 'tfjs');
  assert.throws(() => resolveConfig({ engine: 'torch' }), /engine must be auto, tfjs or onnx/);
  assert.throws(() => resolveConfig({ onnxThreads: '0' }), /ONNX threads per worker must be/);
});

test('ONNX spinning: off by default, on from the env or a flag, nothing else', () => {
  assert.equal(resolveConfig().onnxSpinning, false);
  const env = configTextFromEnv({ MSCR_ONNX_SPINNING: 'on' });
  assert.equal(resolveConfig(env).onnxSpinning, true);
  assert.equal(resolveConfig(env, { onnxSpinning: 'off' }).onnxSpinning, false);
  for (const bad of ['', 'On', 'true', '1', 'yes']) {
    assert.throws(
      () => resolveConfig({ onnxSpinning: bad }),
      /onnx spinning must be on or off/,
      JSON.stringify(bad),
    );
  }
});

test('ONNX placement: workers by default, main from the env or a flag, nothing else', () => {
  assert.equal(resolveConfig().onnxPlacement, 'workers');
  const env = configTextFromEnv({ MSCR_ONNX_PLACEMENT: 'main' });
  assert.equal(resolveConfig(env).onnxPlacement, 'main');
  assert.equal(resolveConfig(env, { onnxPlacement: 'workers' }).onnxPlacement, 'workers');
  for (const bad of ['', 'Main', 'thread', 'main ', '../main']) {
    assert.throws(
      () => resolveConfig({ onnxPlacement: bad }),
      /onnx placement must be workers or main/,
      JSON.stringify(bad),
    );
  }
});
