/**
 * Cleaning a model store of what failed publishes leave behind: version folders without a
 * manifest (the publisher crashed between its files and its manifest) and, when asked,
 * versions whose manifest is invalid. Serving never loads either; this only frees the space
 * and tidies the listings.
 *
 * An incomplete version may also be a publish still uploading, so only those claimed longer
 * ago than `olderThanMs` are removed; one whose claim time is unknown (no readable claim
 * marker) is kept unless `force` is set.
 */
import { errorMessage } from '../errors.ts';
import type { ModelStore } from './model-store.ts';

export interface GcOptions {
  /** Models to clean; default every model in the store. */
  models?: readonly string[];
  /** Minimum age of an incomplete version's claim before it is removed. */
  olderThanMs: number;
  /** Also remove versions whose manifest is invalid (never those an alias points at). */
  invalid?: boolean;
  /** Remove incomplete versions of unknown age too. */
  force?: boolean;
  /** Report only. */
  dryRun?: boolean;
  /** The clock, for tests. */
  now?: () => number;
}

export interface GcEntry {
  model: string;
  version: number;
  state: 'incomplete' | 'invalid';
  /** Milliseconds since the claim, when known. */
  ageMs?: number;
  action: 'removed' | 'would remove' | 'kept' | 'failed';
  reason: string;
}

/** Finds (and unless `dryRun`, removes) abandoned versions. Never touches a ready version. */
export async function collectGarbage(store: ModelStore, options: GcOptions): Promise<GcEntry[]> {
  const now = options.now ?? Date.now;
  const models = options.models?.length ? [...options.models] : await store.listModels();
  const entries: GcEntry[] = [];
  for (const model of models) {
    const statuses = await store.inspectVersions(model);
    const aliases = await store.listAliases(model);
    const aliased = new Set(Object.values(aliases));
    for (const status of statuses) {
      if (status.state === 'ready') continue;
      const claimed = status.claimedAt === undefined ? undefined : Date.parse(status.claimedAt);
      const ageMs = claimed === undefined ? undefined : Math.max(0, now() - claimed);
      const base = {
        model,
        version: status.version,
        state: status.state,
        ...(ageMs === undefined ? {} : { ageMs }),
      };
      let keep: string | undefined;
      if (status.state === 'invalid') {
        if (options.invalid !== true)
          keep = `invalid (${status.problem ?? ''}); --invalid removes it`;
        else if (aliased.has(status.version)) keep = 'invalid, but an alias points at it';
      } else if (ageMs === undefined) {
        if (options.force !== true) keep = 'claim time unknown; --force removes it';
      } else if (ageMs < options.olderThanMs) {
        keep = 'may still be uploading (younger than --older-than)';
      }
      if (keep !== undefined) {
        entries.push({ ...base, action: 'kept', reason: keep });
        continue;
      }
      const reason = status.state === 'invalid' ? (status.problem ?? 'invalid') : 'no manifest';
      if (options.dryRun === true) {
        entries.push({ ...base, action: 'would remove', reason });
        continue;
      }
      try {
        await store.deleteVersion(model, status.version);
        entries.push({ ...base, action: 'removed', reason });
      } catch (error) {
        entries.push({ ...base, action: 'failed', reason: errorMessage(error) });
      }
    }
  }
  return entries;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `30m`, `2h`, `7d` or plain seconds -> milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (match === null) return undefined;
  return Number(match[1]) * (UNITS[match[2] || 's'] ?? 1_000);
}
