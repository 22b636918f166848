/**
 * The live evidence of one rollout on this replica: per role, requests, failures, latencies
 * and predicted classes, plus shadow agreement and feedback, since the current step began.
 * A window starts afresh whenever the rollout's step (or mode, or candidate) changes, so the
 * analyser always compares the two versions over the same time.
 */
import type { RolloutRole, RolloutState } from '../../connectors/store/rollout.ts';
import type { SideWindow } from './analyser.ts';

/** Latency samples kept per side (a reservoir beyond this, so memory stays bounded). */
const MAX_SAMPLES = 20_000;

class Side {
  requests = 0;
  errors = 0;
  latencies: number[] = [];
  classCounts: number[] = [];
  feedback = { total: 0, correct: 0 };

  answer(ms: number, classes: readonly number[]): void {
    this.requests++;
    if (this.latencies.length < MAX_SAMPLES) this.latencies.push(ms);
    else {
      // Reservoir sampling keeps a uniform sample of every latency seen.
      const slot = Math.floor(Math.random() * this.requests);
      if (slot < MAX_SAMPLES) this.latencies[slot] = ms;
    }
    for (const c of classes) {
      if (c >= 0 && c < 4096) this.classCounts[c] = (this.classCounts[c] ?? 0) + 1;
    }
  }

  snapshot(): SideWindow {
    return {
      requests: this.requests,
      errors: this.errors,
      latenciesMs: [...this.latencies],
      classCounts: Array.from(this.classCounts, (n) => n ?? 0),
      feedback: { ...this.feedback },
    };
  }
}

/** Identifies a step of a rollout: the window restarts when this changes. */
export function windowKey(state: RolloutState): string {
  return `${state.stable}>${state.candidate}:${state.mode}:${state.weight}:${state.stepStartedAt}`;
}

export class RolloutWindow {
  readonly key: string;
  readonly startedAt = Date.now();
  readonly #sides: Record<RolloutRole, Side> = { stable: new Side(), candidate: new Side() };
  readonly shadow = { compared: 0, agreed: 0, skipped: 0 };

  constructor(key: string) {
    this.key = key;
  }

  answer(role: RolloutRole, ms: number, classes: readonly number[]): void {
    this.#sides[role].answer(ms, classes);
  }

  fail(role: RolloutRole): void {
    this.#sides[role].requests++;
    this.#sides[role].errors++;
  }

  compare(agreedRows: number, rows: number): void {
    this.shadow.compared += rows;
    this.shadow.agreed += agreedRows;
  }

  feedback(role: RolloutRole, correct: boolean): void {
    this.#sides[role].feedback.total++;
    if (correct) this.#sides[role].feedback.correct++;
  }

  side(role: RolloutRole): SideWindow {
    return this.#sides[role].snapshot();
  }
}

/** The predicted class of each row of a `[rows, classes]` output; none for other shapes. */
export function classesOf(output: Float32Array, shape: readonly number[]): number[] {
  if (shape.length !== 2) return [];
  const [rows = 0, width = 0] = shape;
  if (width < 2 || rows * width > output.length) return [];
  const result: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < width; c++) {
      if ((output[r * width + c] ?? -Infinity) > (output[r * width + best] ?? -Infinity)) best = c;
    }
    result.push(best);
  }
  return result;
}
