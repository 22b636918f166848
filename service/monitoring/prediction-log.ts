/**
 * The prediction log: the last predictions this replica answered, by id, with what was
 * predicted and the input it was predicted from, so that feedback can name a prediction by
 * its id instead of sending the input again.
 *
 * Bounded twice, as configuration: most entries and most bytes (inputs counted by size plus a
 * fixed overhead per entry); the oldest entries go first. An input too large to keep
 * (more than 1/64 of the byte budget) is left out and the prediction kept without it. Each
 * replica has its own log and it does not survive a restart: feedback about a prediction the
 * log has forgotten sends the input itself.
 */
import { randomUUID } from 'node:crypto';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type { FeedbackInput } from '../../connectors/sr/index.ts';
import type { Predicted } from './predictions.ts';

/** An input as the log keeps it (a tensor stays a typed array until it is stored). */
export type LoggedInput =
  | Extract<FeedbackInput, { kind: 'image' | 'csv' }>
  | { kind: 'tensor'; shape: number[]; data: Float32Array };

export interface LoggedPrediction {
  id: string;
  model: string;
  version: number;
  manifest: ModelManifest;
  /** When it was answered (epoch ms). */
  at: number;
  predicted: Predicted;
  input?: LoggedInput;
  /** The id of the feedback stored about it, or `pending` while it is being stored. */
  feedback?: string;
}

export interface PredictionLogOptions {
  /** Most predictions kept; 0 keeps none (ids are still given, but never known). */
  maxEntries: number;
  /** Most bytes of inputs (plus a per-entry overhead) kept. */
  maxBytes: number;
}

/** What an entry costs besides its input: the map slot, the object, the id string. */
const ENTRY_OVERHEAD = 256;

/** Bytes an input takes in memory. */
function inputBytes(input: LoggedInput): number {
  switch (input.kind) {
    case 'image':
      return input.bytes.byteLength;
    case 'tensor':
      return input.data.byteLength;
    case 'csv':
      return input.text.length * 2;
  }
}

/** A logged input as the feedback store takes it. */
export function toFeedbackInput(input: LoggedInput): FeedbackInput {
  return input.kind === 'tensor'
    ? { kind: 'tensor', shape: [...input.shape], data: Array.from(input.data) }
    : input;
}

export class PredictionLog {
  readonly #options: PredictionLogOptions;
  readonly #entries = new Map<string, { entry: LoggedPrediction; bytes: number }>();
  #bytes = 0;

  constructor(options: PredictionLogOptions) {
    this.#options = options;
  }

  /** The largest input kept with a prediction. */
  get maxInputBytes(): number {
    return Math.max(4096, Math.floor(this.#options.maxBytes / 64));
  }

  /** Remembers a prediction under a new id and returns the id. */
  add(prediction: Omit<LoggedPrediction, 'id' | 'feedback'>): string {
    const id = randomUUID();
    if (this.#options.maxEntries === 0) return id;
    const entry: LoggedPrediction = { id, ...prediction };
    let bytes = ENTRY_OVERHEAD;
    if (entry.input !== undefined) {
      const size = inputBytes(entry.input);
      if (size > this.maxInputBytes) delete entry.input;
      else bytes += size;
    }
    this.#entries.set(id, { entry, bytes });
    this.#bytes += bytes;
    this.#evict();
    return id;
  }

  get(id: string): LoggedPrediction | undefined {
    return this.#entries.get(id)?.entry;
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  #evict(): void {
    for (const [id, { bytes }] of this.#entries) {
      if (this.#entries.size <= this.#options.maxEntries && this.#bytes <= this.#options.maxBytes)
        return;
      this.#entries.delete(id);
      this.#bytes -= bytes;
    }
  }
}
