import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError } from '../../connectors/errors.ts';
import { createLocalObjectStore, openStore } from '../../connectors/store/index.ts';
import { createStoreSource } from './source.ts';
import type { DesiredState, SourceError } from './source.ts';
import { faultyStore, publishSample, tempStore, waitFor } from './test-support.ts';
import type { TempStore } from './test-support.ts';

describe('store source', () => {
  let temp: TempStore;
  beforeEach(async () => {
    temp = await tempStore();
  });
  afterEach(() => temp.cleanup());

  test('emits the complete ready list and the aliases of each configured model', async () => {
    const { store } = temp;
    await publishSample(store, 'alpha', 'a1');
    await publishSample(store, 'alpha', 'a2', { alias: 'stable' });
    await publishSample(store, 'alpha', 'a3');
    await publishSample(store, 'beta', 'b1');
    const source = createStoreSource({ store, models: ['alpha', 'gamma'] });
    const seen: DesiredState[] = [];
    source.onDesired((state) => seen.push(state));

    const result = await source.pollOnce();
    assert.deepEqual(result.errors, []);
    const expected = [
      { model: 'alpha', versions: [1, 2, 3], aliases: { stable: 2 } },
      // Configured but not in the store (yet): a real listing with no versions.
      { model: 'gamma', versions: [], aliases: {} },
    ];
    assert.deepEqual(seen, expected);
    assert.deepEqual(result.emitted, expected);

    // The next emission is the whole state again, not a difference.
    await store.deleteAlias('alpha', 'stable');
    await store.deleteVersion('alpha', 1);
    seen.length = 0;
    await source.pollOnce();
    assert.deepEqual(seen[0], { model: 'alpha', versions: [2, 3], aliases: {} });
  });

  test('lists only ready versions: an incomplete publish is not emitted', async () => {
    const { store, dir } = temp;
    await publishSample(store, 'alpha', 'a1');
    // A version folder with files but no manifest yet (a publish in progress).
    await createLocalObjectStore(dir).put('alpha/2/model.json', new TextEncoder().encode('{}'));
    const source = createStoreSource({ store, models: ['alpha'] });
    const { emitted } = await source.pollOnce();
    assert.deepEqual(emitted, [{ model: 'alpha', versions: [1], aliases: {} }]);
  });

  test('with no configured models it watches every model, and reports one that vanished', async () => {
    const { store } = temp;
    await publishSample(store, 'alpha', 'a1');
    await publishSample(store, 'beta', 'b1');
    const source = createStoreSource({ store, models: [] });
    let { emitted } = await source.pollOnce();
    assert.deepEqual(
      emitted.map((s) => [s.model, s.versions]),
      [
        ['alpha', [1]],
        ['beta', [1]],
      ],
    );

    await store.deleteVersion('beta', 1);
    await publishSample(store, 'gamma', 'g1');
    ({ emitted } = await source.pollOnce());
    assert.deepEqual(
      emitted.map((s) => [s.model, s.versions]),
      [
        ['alpha', [1]],
        ['gamma', [1]],
        ['beta', []],
      ],
    );
    // Emitted empty once; afterwards it is simply not a model of the store.
    ({ emitted } = await source.pollOnce());
    assert.deepEqual(
      emitted.map((s) => s.model),
      ['alpha', 'gamma'],
    );
  });

  test('a store outage is reported and emits nothing', async () => {
    // A fault injector around the real local store (see faultyStore): tests run as root,
    // so making the folder unreadable would not stop the reads.
    await publishSample(temp.store, 'alpha', 'a1');
    const faulty = faultyStore(temp.dir);
    for (const models of [['alpha'], []]) {
      const source = createStoreSource({ store: faulty.store, models });
      const seen: DesiredState[] = [];
      const errors: SourceError[] = [];
      source.onDesired((state) => seen.push(state));
      source.onError((error) => errors.push(error));

      faulty.setFailing(true);
      const result = await source.pollOnce();
      assert.deepEqual(seen, [], `models ${JSON.stringify(models)}`);
      assert.equal(errors.length, 1);
      assert.deepEqual(result.errors, errors);
      const [error] = errors;
      assert.ok(isMscrError(error?.error, 'unavailable'));
      assert.equal(error?.model, models.length > 0 ? 'alpha' : undefined);
      assert.match(error?.message ?? '', /store outage \(injected\)/);

      faulty.setFailing(false);
      await source.pollOnce();
      assert.deepEqual(seen, [{ model: 'alpha', versions: [1], aliases: {} }]);
    }
  });

  test('one failing model does not silence the others', async () => {
    await publishSample(temp.store, 'alpha', 'a1');
    // An alias file that is not JSON makes listing alpha fail; beta still lists.
    await createLocalObjectStore(temp.dir).put(
      'alpha/aliases/stable.json',
      new TextEncoder().encode('not json'),
    );
    await publishSample(temp.store, 'beta', 'b1');
    const source = createStoreSource({ store: temp.store, models: ['alpha', 'beta'] });
    const { emitted, errors } = await source.pollOnce();
    assert.deepEqual(
      emitted.map((s) => s.model),
      ['beta'],
    );
    assert.equal(errors[0]?.model, 'alpha');
    assert.ok(isMscrError(errors[0]?.error, 'integrity'));
  });

  test('a listener that throws is reported and does not stop the others', async () => {
    await publishSample(temp.store, 'alpha', 'a1');
    const source = createStoreSource({ store: temp.store, models: ['alpha'] });
    const seen: string[] = [];
    source.onDesired(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = source.onDesired((state) => seen.push(state.model));
    const { errors } = await source.pollOnce();
    assert.deepEqual(seen, ['alpha']);
    assert.match(errors[0]?.message ?? '', /listener bug/);
    unsubscribe();
    await source.pollOnce();
    assert.deepEqual(seen, ['alpha']);
  });

  test('start polls at once and then periodically; stop ends polling', async () => {
    await publishSample(temp.store, 'alpha', 'a1');
    const source = createStoreSource({ store: temp.store, models: ['alpha'], pollIntervalMs: 5 });
    let polls = 0;
    source.onDesired(() => polls++);
    source.start();
    source.start(); // idempotent
    await waitFor(() => polls >= 3, 'three polls');
    await source.stop();
    const after = polls;
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(polls, after);
  });

  test('bad options are config errors', () => {
    const store = openStore(temp.dir);
    for (const options of [
      { store, pollIntervalMs: 0 },
      { store, pollIntervalMs: Number.NaN },
      { store, models: ['Bad Name'] },
    ]) {
      assert.throws(
        () => createStoreSource(options),
        (error: unknown) => isMscrError(error, 'config'),
      );
    }
  });
});
