/**
 * Per-model limits on feedback, per replica: a token bucket on posts (rate and burst) and an
 * hourly quota of records and stored bytes. Feedback becomes training data, so one client
 * must not be able to fill the store or drown the real labels; a refused post is a 429 with
 * `Retry-After` (RFC 6585) saying when to come back.
 */
import { MscrError } from '../../connectors/errors.ts';

export interface FeedbackLimitOptions {
  ratePerSecond: number;
  burst: number;
  maxRecordsPerHour: number;
  maxBytesPerHour: number;
  now?: () => number;
}

const HOUR_MS = 3_600_000;
/** The hourly quota is counted in minute buckets: a sliding hour, 60 numbers per model. */
const BUCKET_MS = 60_000;
/** Models tracked at most (names are checked against served models first; this is a backstop). */
const MAX_MODELS = 10_000;

interface ModelState {
  tokens: number;
  refilledAt: number;
  /** Minute bucket start -> records and bytes stored in it. */
  minutes: Map<number, { records: number; bytes: number }>;
}

/** A 429 that says when to retry; the HTTP layer copies `retryAfterSeconds` into the header. */
export class RateLimited extends MscrError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super('unavailable', message, { status: 429 });
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

export class FeedbackLimiter {
  readonly #options: FeedbackLimitOptions;
  readonly #now: () => number;
  readonly #models = new Map<string, ModelState>();

  constructor(options: FeedbackLimitOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  #state(model: string, now: number): ModelState {
    let state = this.#models.get(model);
    if (state === undefined) {
      if (this.#models.size >= MAX_MODELS) {
        const oldest = this.#models.keys().next().value;
        if (oldest !== undefined) this.#models.delete(oldest);
      }
      state = { tokens: this.#options.burst, refilledAt: now, minutes: new Map() };
      this.#models.set(model, state);
    }
    const elapsed = (now - state.refilledAt) / 1000;
    state.tokens = Math.min(
      this.#options.burst,
      state.tokens + elapsed * this.#options.ratePerSecond,
    );
    state.refilledAt = now;
    for (const start of state.minutes.keys())
      if (start <= now - HOUR_MS) state.minutes.delete(start);
    return state;
  }

  /** Takes one post from the model's bucket, or throws `RateLimited` (429). */
  admit(model: string): void {
    const now = this.#now();
    const state = this.#state(model, now);
    if (state.tokens < 1) {
      throw new RateLimited(
        `too much feedback for model ${model}: at most ${this.#options.ratePerSecond} posts per second (bursts of ${this.#options.burst}); retry later`,
        (1 - state.tokens) / this.#options.ratePerSecond,
      );
    }
    let records = 0;
    let bytes = 0;
    for (const used of state.minutes.values()) {
      records += used.records;
      bytes += used.bytes;
    }
    if (records >= this.#options.maxRecordsPerHour || bytes >= this.#options.maxBytesPerHour) {
      const oldest = Math.min(...state.minutes.keys());
      throw new RateLimited(
        `the feedback quota of model ${model} is used up: at most ${this.#options.maxRecordsPerHour} records and ${this.#options.maxBytesPerHour} bytes per hour; retry later`,
        (oldest + HOUR_MS - now) / 1000,
      );
    }
    state.tokens -= 1;
  }

  /** Counts a stored record and its bytes against the model's hourly quota. */
  record(model: string, bytes: number): void {
    const now = this.#now();
    const state = this.#state(model, now);
    const start = now - (now % BUCKET_MS);
    const used = state.minutes.get(start) ?? { records: 0, bytes: 0 };
    used.records += 1;
    used.bytes += bytes;
    state.minutes.set(start, used);
  }
}
