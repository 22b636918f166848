/**
 * Store changes must not take replicas out of the Service (issue 15, item 4), against a real
 * service on loopback polling a real local store: readiness follows the models the store
 * still has (or the configured ones); a feedback write never recreates a vanished store
 * root; an empty listing right after a non-empty one keeps every model serving, with a
 * warning, in each of the ways a store can come back empty.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createLogger } from './observability/log.ts';
import { tempStore } from './reload/test-support.ts';
import {
  postJson,
  publishToyClassifier,
  startService,
  toyInfer,
  waitUntil,
} from './test-support.ts';

async function readiness(url: string): Promise<number> {
  return (await fetch(`${url}/v2/health/ready`)).status;
}

async function serving(url: string, model: string): Promise<number> {
  return (await postJson(`${url}/v2/models/${model}/infer`, toyInfer(1))).status;
}

async function setUp(overrides: Record<string, string> = {}, models = ['a', 'b']) {
  const temp = await tempStore();
  for (const model of models) await publishToyClassifier(temp.store, model, 0);
  const lines: string[] = [];
  const logger = createLogger('warn', {}, (line) => lines.push(line));
  const { service, url } = await startService(temp.dir, overrides, { logger });
  await waitUntil(async () => (await readiness(url)) === 200, 'ready');
  return { temp, service, url, lines };
}

describe('readiness follows the store', () => {
  test('a model removed from the store stops counting: ready again once it is unloaded, the other keeps serving', async () => {
    const { temp, service, url } = await setUp();
    try {
      await fs.rm(path.join(temp.dir, 'b'), { recursive: true });
      await waitUntil(async () => (await serving(url, 'b')) !== 200, 'b unloaded');
      // Give readiness a few polls: it must be (and stay) 200.
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 120));
        assert.equal(await readiness(url), 200, `poll ${i}`);
      }
      assert.equal(await serving(url, 'a'), 200);
    } finally {
      await service.stop();
      await temp.cleanup();
    }
  });

  test('with explicit --model a,b, a removed b makes the service not ready (it was asked for)', async () => {
    const { temp, service, url } = await setUp({ models: 'a,b' });
    try {
      await fs.rm(path.join(temp.dir, 'b'), { recursive: true });
      await waitUntil(async () => (await readiness(url)) === 503, 'not ready without b');
      assert.equal(await serving(url, 'a'), 200);
    } finally {
      await service.stop();
      await temp.cleanup();
    }
  });
});

describe('an empty store right after a full one is suspect: keep serving, warn', () => {
  const ways: { name: string; empty: (dir: string) => Promise<void> }[] = [
    {
      name: 'the root removed',
      empty: (dir) => fs.rm(dir, { recursive: true }),
    },
    {
      name: 'the root emptied',
      empty: async (dir) => {
        for (const entry of await fs.readdir(dir))
          await fs.rm(path.join(dir, entry), { recursive: true });
      },
    },
    {
      name: 'the root replaced by an empty folder',
      empty: async (dir) => {
        await fs.rename(dir, `${dir}-old`);
        await fs.mkdir(dir);
        await fs.rm(`${dir}-old`, { recursive: true });
      },
    },
    {
      name: 'the root recreated with only feedback in it',
      empty: async (dir) => {
        await fs.rm(dir, { recursive: true });
        await fs.mkdir(path.join(dir, 'a', 'feedback', '2026-01-01'), { recursive: true });
      },
    },
    {
      name: 'the version folders removed, the model folder left',
      empty: async (dir) => {
        await fs.rm(path.join(dir, 'a', '1'), { recursive: true });
      },
    },
  ];
  // One model: emptying a store is never atomic, and a poll between two deletions rightly
  // sees one model removed while the other stays.
  for (const way of ways) {
    test(way.name, async () => {
      const { temp, service, url, lines } = await setUp({}, ['a']);
      try {
        await way.empty(temp.dir);
        await waitUntil(
          () => lines.some((l) => /lists no ready versions|store folder does not exist/.test(l)),
          'a warning about the empty store',
        );
        for (let i = 0; i < 4; i++) {
          await new Promise((resolve) => setTimeout(resolve, 120));
          assert.equal(await readiness(url), 200, `ready after poll ${i}`);
          assert.equal(await serving(url, 'a'), 200);
        }
      } finally {
        await service.stop();
        await temp.cleanup();
      }
    });
  }
});

describe('writes never create a missing store root', () => {
  test('feedback into a vanished store is a 503, the root stays missing, the models keep serving', async () => {
    const { temp, service, url } = await setUp();
    try {
      const infer = await postJson(`${url}/v2/models/a/infer`, toyInfer(1));
      const id = String((infer.json.parameters as Record<string, string>).prediction_ids);
      await fs.rm(temp.dir, { recursive: true });
      const posts = [
        { predictionId: id, label: 'low' },
        { input: { data: [1, 1, 1, 1], shape: [4] }, label: 'high' },
      ];
      for (const body of posts) {
        const answer = await postJson(`${url}/mscr/models/a/feedback`, body);
        assert.equal(answer.status, 503, JSON.stringify(answer.json));
        assert.match(String(answer.json.error), /not recorded/);
      }
      await assert.rejects(fs.stat(temp.dir), /ENOENT/);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(await readiness(url), 200);
      assert.equal(await serving(url, 'a'), 200);
    } finally {
      await service.stop();
      await temp.cleanup();
    }
  });
});
