/**
 * A run's progress, written into its run record while the job runs, so whoever reads the
 * record (the Service's `GET /mscr/train/{id}`, on any pod) can follow it. Entries are
 * numbered (`seq`, the SSE event id); the record keeps at most `MAX_PROGRESS` of them,
 * dropping the oldest epoch entries first (trial results and states stay). Saves are
 * coalesced: at most one write in flight, and at most one every `minIntervalMs`, except
 * that `flush()` writes at once (a trial's end, the run's end).
 */
import { errorMessage } from '../../connectors/errors.ts';
import type { RetrainRun } from '../../connectors/sr/index.ts';
import type { RunStore } from '../../connectors/sr/run-store.ts';
import { MAX_PROGRESS, type ProgressEntry } from '../../connectors/sr/train.ts';

type Entry = ProgressEntry extends infer E
  ? E extends ProgressEntry
    ? Omit<E, 'seq' | 'at'>
    : never
  : never;

export interface ProgressRecorder {
  add(entry: Entry): void;
  /** Writes the record now (after any write in flight). */
  flush(): Promise<void>;
}

export function createProgressRecorder(
  run: RetrainRun,
  runs: RunStore,
  options: { minIntervalMs?: number; max?: number; onError?: (message: string) => void } = {},
): ProgressRecorder {
  const minInterval = options.minIntervalMs ?? 500;
  const max = options.max ?? MAX_PROGRESS;
  let seq = 0;
  let lastSave = 0;
  let writing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  const save = (): Promise<void> => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    writing = writing.then(async () => {
      lastSave = Date.now();
      // A snapshot: the run object keeps changing while the write is under way.
      await runs
        .save(structuredClone(run))
        .catch((error: unknown) => options.onError?.(errorMessage(error)));
    });
    return writing;
  };

  const trim = (list: ProgressEntry[]) => {
    while (list.length > max) {
      const epoch = list.findIndex((e) => e.type === 'epoch');
      list.splice(epoch >= 0 ? epoch : 0, 1);
      run.progressDropped = (run.progressDropped ?? 0) + 1;
    }
  };

  return {
    add(entry) {
      const list = (run.progress ??= []);
      list.push({ ...entry, seq: ++seq, at: new Date().toISOString() } as ProgressEntry);
      trim(list);
      if (timer !== undefined) return;
      const wait = Math.max(0, lastSave + minInterval - Date.now());
      timer = setTimeout(() => void save(), wait);
      timer.unref();
    },
    flush: save,
  };
}
