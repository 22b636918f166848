/**
 * A training run moves through explicit states and tells listeners about each step, so a
 * CLI can draw a progress bar, a service can expose it, and a test can assert on it.
 *
 *   created -> loading-data -> training -> evaluating -> completed
 *        \____________\______________\____________\___> failed
 */
import { MscrError } from '../../connectors/errors.ts';

export type TrainingState =
  'created' | 'loading-data' | 'training' | 'evaluating' | 'completed' | 'failed';

const allowed: Record<TrainingState, readonly TrainingState[]> = {
  created: ['loading-data', 'failed'],
  'loading-data': ['training', 'failed'],
  training: ['evaluating', 'failed'],
  evaluating: ['completed', 'failed'],
  completed: [],
  failed: [],
};

export interface EpochProgress {
  epoch: number; // 1-based
  epochs: number;
  loss: number;
  /** Training metrics of the epoch (`acc` for classifiers, `mae` for regressors). */
  metrics: Record<string, number>;
  samplesPerSecond: number;
  elapsedMs: number;
}

export type TrainingEvent =
  | { type: 'state'; state: TrainingState; previous: TrainingState; error?: Error; detail?: string }
  | { type: 'batch'; epoch: number; epochs: number; batch: number; batches: number; loss: number }
  | ({ type: 'epoch' } & EpochProgress);

export type TrainingListener = (event: TrainingEvent) => void;

export class TrainingRun {
  #state: TrainingState = 'created';
  readonly #listeners: TrainingListener[] = [];
  readonly history: EpochProgress[] = [];

  get state(): TrainingState {
    return this.#state;
  }

  on(listener: TrainingListener): this {
    this.#listeners.push(listener);
    return this;
  }

  emit(event: TrainingEvent): void {
    if (event.type === 'epoch') {
      const { type: _type, ...progress } = event;
      this.history.push(progress);
    }
    for (const listener of this.#listeners) listener(event);
  }

  transition(next: TrainingState, detail?: string): void {
    if (!allowed[this.#state].includes(next)) {
      throw new MscrError('internal', `training run cannot go from ${this.#state} to ${next}`);
    }
    const previous = this.#state;
    this.#state = next;
    this.emit({
      type: 'state',
      state: next,
      previous,
      ...(detail === undefined ? {} : { detail }),
    });
  }

  fail(error: Error): void {
    if (this.#state === 'completed' || this.#state === 'failed') return;
    const previous = this.#state;
    this.#state = 'failed';
    this.emit({ type: 'state', state: 'failed', previous, error });
  }

  /** Runs `body` with the run failing (and the error rethrown) if it throws. */
  async guard<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  }
}
