import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isMscrError } from '../../connectors/errors.ts';
import { alias, all, latest, parsePolicy, specific } from './policy.ts';
import type { VersionPolicy } from './policy.ts';
import type { DesiredState } from './source.ts';

const state = (versions: number[], aliases: Record<string, number> = {}): DesiredState => ({
  model: 'm',
  versions,
  aliases,
});

describe('version policies', () => {
  const cases: [string, VersionPolicy, DesiredState, number[]][] = [
    ['latest() of none', latest(), state([]), []],
    ['latest() of 1,2,3', latest(), state([1, 2, 3]), [3]],
    ['latest(2) of 1,2,3', latest(2), state([1, 2, 3]), [2, 3]],
    ['latest(5) of 1,2', latest(5), state([1, 2]), [1, 2]],
    ['latest(1) of unsorted', latest(1), state([3, 1, 2]), [3]],
    ['all() of 1,4', all(), state([4, 1]), [1, 4]],
    ['all() of none', all(), state([]), []],
    ['specific(1,3) of 1,2,3', specific([3, 1]), state([1, 2, 3]), [1, 3]],
    ['specific(1,3) of 2,3', specific([1, 3]), state([2, 3]), [3]],
    ['specific(7) of 1', specific([7]), state([1]), []],
    ['alias(stable) -> 2', alias('stable'), state([1, 2, 3], { stable: 2, canary: 3 }), [2]],
    ['alias(stable) missing', alias('stable'), state([1, 2], { canary: 2 }), []],
    ['alias(stable) -> unready 9', alias('stable'), state([1, 2], { stable: 9 }), []],
    ['parsed latest', parsePolicy('latest'), state([1, 2]), [2]],
    ['parsed latest:2', parsePolicy('latest:2'), state([1, 2, 3]), [2, 3]],
    ['parsed all', parsePolicy(' all '), state([1, 2]), [1, 2]],
    ['parsed specific:1,3', parsePolicy('specific:1, 3'), state([1, 2, 3]), [1, 3]],
    ['parsed alias:stable', parsePolicy('alias:stable'), state([1, 2], { stable: 1 }), [1]],
  ];
  for (const [name, policy, desired, expected] of cases) {
    test(name, () => assert.deepEqual(policy(desired), expected));
  }

  test('policies are pure: the input is not changed and repeated calls agree', () => {
    const desired = state([3, 1, 2], { stable: 1 });
    const before = JSON.stringify(desired);
    for (const policy of [latest(2), all(), specific([1, 2]), alias('stable')]) {
      assert.deepEqual(policy(desired), policy(desired));
    }
    assert.equal(JSON.stringify(desired), before);
  });

  test('policies describe themselves in their text form', () => {
    const described: [VersionPolicy, string][] = [
      [latest(), 'latest:1'],
      [parsePolicy('latest:2'), 'latest:2'],
      [all(), 'all'],
      [specific([3, 1, 3]), 'specific:1,3'],
      [parsePolicy('alias:canary'), 'alias:canary'],
    ];
    for (const [policy, text] of described) assert.equal(policy.description, text);
  });

  const bad: [string, () => unknown][] = [
    ['empty text', () => parsePolicy('')],
    ['unknown kind', () => parsePolicy('newest')],
    ['latest:0', () => parsePolicy('latest:0')],
    ['latest:-1', () => parsePolicy('latest:-1')],
    ['latest:two', () => parsePolicy('latest:two')],
    ['latest:1.5', () => parsePolicy('latest:1.5')],
    ['all:3', () => parsePolicy('all:3')],
    ['specific without versions', () => parsePolicy('specific')],
    ['specific:1,,3', () => parsePolicy('specific:1,,3')],
    ['specific:01', () => parsePolicy('specific:01')],
    ['alias without name', () => parsePolicy('alias:')],
    ['alias:Stable', () => parsePolicy('alias:Stable')],
    ['alias:latest', () => parsePolicy('alias:latest')],
    ['latest(0)', () => latest(0)],
    ['specific([])', () => specific([])],
    ['specific([0])', () => specific([0])],
  ];
  for (const [name, make] of bad) {
    test(`config error: ${name}`, () => {
      assert.throws(make, (error: unknown) => {
        assert.ok(isMscrError(error, 'config'), String(error));
        return true;
      });
    });
  }

  test('a parse error names the forms that work', () => {
    assert.throws(() => parsePolicy('newest'), /latest:<n>.*all.*specific.*alias:<name>/);
  });
});
