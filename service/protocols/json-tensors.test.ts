import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_LIST_LENGTH, parseInferJson } from './json-tensors.ts';

/** A seeded generator: the same cases every run, many shapes of number text. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Number texts as clients write them: float32s printed as doubles, short decimals, exponents. */
function numberTexts(count: number, seed: number): string[] {
  const next = random(seed);
  return Array.from({ length: count }, (_, i) => {
    const magnitude = 10 ** (Math.floor(next() * 12) - 6);
    const x = (next() - 0.3) * magnitude;
    switch (i % 7) {
      case 0:
        return String(Math.fround(x)); // 16-17 digits, as JSON.stringify(Array.from(float32s))
      case 1:
        return x.toPrecision(1 + Math.floor(next() * 21)); // 1-21 digits, some with exponents
      case 2:
        return String(Math.round(x * 1000)); // integers
      case 3:
        return x.toExponential(Math.floor(next() * 18)).replace('e+', next() < 0.5 ? 'e' : 'E+');
      case 4:
        return (next() < 0.5 ? '-' : '') + '0.' + '0'.repeat(Math.floor(next() * 25)) + '7';
      case 5:
        return String(x);
      default:
        return String(Math.fround(x) * (next() < 0.5 ? 1 : -1));
    }
  });
}

function inferBody(texts: string[], datatype: string, spacing = ''): string {
  return (
    `{"id":"a [1,2,3] \\" string","inputs":[{"name":"x","shape":[1,${texts.length}],` +
    `"datatype":"${datatype}","parameters":{"k":"[0]"},"data":[${texts.join(`,${spacing}`)}]}]}`
  );
}

function parseBoth(text: string): { ours: unknown; reference: unknown } {
  return { ours: parseInferJson(Buffer.from(text)), reference: JSON.parse(text) as unknown };
}

function dataOf(json: unknown): unknown {
  return (json as { inputs: { data: unknown }[] }).inputs[0]?.data;
}

test('FP32 data lists come back as Float32Arrays equal to Float32Array.from(JSON.parse(...))', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const texts = numberTexts(1000 + seed, seed);
    const { ours, reference } = parseBoth(inferBody(texts, 'FP32', seed % 3 === 0 ? ' \n' : ''));
    const data = dataOf(ours);
    assert.ok(data instanceof Float32Array, `seed ${seed}: a Float32Array`);
    const expected = Float32Array.from(dataOf(reference) as number[]);
    assert.equal(data.length, expected.length);
    for (let i = 0; i < data.length; i++) {
      if (!Object.is(data[i], expected[i])) {
        assert.fail(`seed ${seed}, value ${i} (${texts[i]}): ${data[i]} != ${expected[i]}`);
      }
    }
    // Everything else is JSON.parse's answer.
    const rest = (json: unknown) => ({ ...(json as object), inputs: undefined });
    assert.deepEqual(rest(ours), rest(reference));
    const input = (json: unknown) => ({ ...(json as { inputs: object[] }).inputs[0], data: 0 });
    assert.deepEqual(input(ours), input(reference));
  }
});

test('lists of other datatypes keep their exact double values, 19-digit integers included', () => {
  for (const datatype of ['FP64', 'INT64', 'FP16', 'fp32']) {
    for (let seed = 50; seed < 60; seed++) {
      const texts = numberTexts(500, seed);
      texts.push('1234567890123456789', '-9007199254740993', '0.30000000000000004');
      const { ours, reference } = parseBoth(inferBody(texts, datatype));
      assert.deepEqual(ours, reference, `${datatype}, seed ${seed}`);
      assert.ok(Array.isArray(dataOf(ours)));
    }
  }
});

test('an FP32 list with a value beyond FP32 stays a plain list, so the decoder names the value', () => {
  const texts = numberTexts(200, 7);
  texts[100] = '3.5e38';
  const { ours, reference } = parseBoth(inferBody(texts, 'FP32'));
  assert.deepEqual(ours, reference);
});

test('short lists, small bodies, nested lists and lists not under "data" are JSON.parse alone', () => {
  const short = numberTexts(MIN_LIST_LENGTH - 1, 3);
  const nested = `[${Array.from({ length: 100 }, (_, i) => `[${i}.5,${i}.25]`).join(',')}]`;
  const cases = [
    inferBody(short, 'FP32') + ' '.repeat(5000),
    inferBody(numberTexts(100, 4), 'FP32'), // under 4 KB
    `{"inputs":[{"name":"x","datatype":"FP32","shape":[100,2],"data":${nested}}]}`,
    `{"inputs":[{"name":"x","datatype":"FP32","values":[${numberTexts(800, 5).join(',')}]}]}`,
    `[${numberTexts(800, 6).join(',')}]`,
    `{"inputs":[{"datatype":"FP32","data":"[${numberTexts(800, 8).join(',')}]"}]}`,
  ];
  for (const text of cases) {
    const { ours, reference } = parseBoth(text);
    assert.deepEqual(ours, reference);
  }
});

test('a "data" list in a key position or inside a string is not taken for a value', () => {
  const list = `[${numberTexts(800, 9).join(',')}]`;
  // Invalid JSON: a list where a key belongs. Replaced by a string, it would become valid.
  assert.throws(
    () => parseInferJson(Buffer.from(`{"data":1,${list}:2}`)),
    (error: Error) => error instanceof SyntaxError,
  );
  const inString = `{"s":"\\"data\\":${list}","datatype":"FP32"}`;
  assert.deepEqual(parseBoth(inString).ours, JSON.parse(inString));
});

test('invalid JSON: the same SyntaxError and message as JSON.parse', () => {
  const good = inferBody(numberTexts(800, 10), 'FP32');
  const bad = [
    good.slice(0, -3), // truncated
    good.slice(0, 2000), // truncated inside the list
    good + ' x', // trailing garbage
    good.replace('"data":[', '"data":[01,'), // leading zero
    good.replace('"data":[', '"data":[1.,'), // no digit after the dot
    good.replace('"data":[', '"data":[.5,'),
    good.replace('"data":[', '"data":[+1,'),
    good.replace('"data":[', '"data":[1e,'),
    good.replace('"data":[', '"data":[-,'),
    good.replace('"data":[', '"data":[NaN,'),
    good.replace('"data":[', '"data":[Infinity,'),
    good.replace('"data":[', '"data":[1,,'),
    good.replace(']}]}', ',]}]}'), // trailing comma
    good.replace('"data":[', '"data":[1 2,'),
  ];
  for (const text of bad) {
    let expected = '';
    try {
      JSON.parse(text);
      assert.fail(`JSON.parse accepted ${text.slice(0, 80)}`);
    } catch (error) {
      expected = (error as Error).message;
    }
    assert.throws(
      () => parseInferJson(Buffer.from(text)),
      (error: Error) => error instanceof SyntaxError && error.message === expected,
      text.slice(0, 80),
    );
  }
});

test('a body that already holds the splice marker is parsed by JSON.parse alone', () => {
  const texts = numberTexts(800, 11);
  const text = `{"note":"\\u0000mscr-json-tensor:0","inputs":[{"datatype":"FP32","data":[${texts.join(',')}]}]}`;
  const { ours, reference } = parseBoth(text);
  assert.deepEqual(ours, reference);
  assert.ok(Array.isArray(dataOf(ours)));
});

test('duplicate keys, __proto__ keys, unicode and escapes are as JSON.parse has them', () => {
  const texts = numberTexts(800, 12);
  const list = `[${texts.join(',')}]`;
  const text = `{"__proto__":{"polluted":true},"é\\u00e9 \\ud83d\\ude00":"ü","inputs":[{"datatype":"FP32","data":${list},"data":${list.replace('[', '[1,')}}]}`;
  const { ours, reference } = parseBoth(text);
  assert.equal(Object.getPrototypeOf(ours), Object.prototype);
  assert.deepEqual(Object.keys(ours as object), Object.keys(reference as object));
  assert.deepEqual((ours as Record<string, unknown>).__proto__, { polluted: true });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const data = dataOf(ours) as Float32Array;
  assert.equal(data.length, texts.length + 1, 'the last "data" wins, as in JSON.parse');
  assert.equal(data[0], 1);
});
