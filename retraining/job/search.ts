/**
 * The trials of a hyperparameter search: which combinations of a discrete space a run trains,
 * within its trial budget.
 *
 * - `grid`: the combinations in order (the first parameter varies slowest), the first
 *   `trials` of them.
 * - `random`: `trials` distinct combinations drawn without replacement with a seeded
 *   generator, so a run can be repeated.
 *
 * A budget larger than the space trains every combination once: a second training of the
 * same hyperparameters would only measure the seed, which `seed` already fixes.
 */
import type { Hyperparameters, SearchParameter, SearchSpec } from '../../connectors/sr/train.ts';

/** The space's combinations, the first parameter varying slowest. */
export function combinations(space: SearchSpec['space']): Hyperparameters[] {
  let out: Hyperparameters[] = [{}];
  for (const [name, values] of Object.entries(space) as [SearchParameter, number[]][]) {
    out = out.flatMap((partial) => values.map((value) => ({ ...partial, [name]: value })));
  }
  return out;
}

/** A small seeded generator (mulberry32), uniform in [0, 1). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The hyperparameters of each trial, in the order they are trained. */
export function searchTrials(search: SearchSpec): Hyperparameters[] {
  const all = combinations(search.space);
  if (search.mode === 'grid') return all.slice(0, search.trials);
  const next = random(search.seed ?? 42);
  // A partial Fisher-Yates shuffle: the first `trials` places are a uniform sample.
  const picked = [...all];
  const n = Math.min(search.trials, picked.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(next() * (picked.length - i));
    [picked[i], picked[j]] = [picked[j] as Hyperparameters, picked[i] as Hyperparameters];
  }
  return picked.slice(0, n);
}
