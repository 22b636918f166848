/**
 * Retraining runs and the per-model lease, in the model store beside the models, so that a
 * cron job, a threshold watcher and an HTTP request on different machines see one history
 * and never run two jobs for the same model at once.
 *
 *     <model>/retraining/runs/<started, sortable>-<id>.json   one record per run
 *     <model>/retraining/lease.json                          who is running, until when
 *
 * The lease is taken with the store's exclusive create (`putIfAbsent`: `If-None-Match: *`
 * on S3, `ifGenerationMatch: 0` on GCS, `O_EXCL` locally). A lease past its expiry (a job
 * that crashed) may be broken: the breaker deletes exactly the record it read, then races
 * for a fresh create like everyone else, so two breakers cannot both win.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { MscrError, errorMessage, isMscrError } from '../errors.ts';
import { validateModelName } from '../ms/manifest.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { RetrainRun } from './index.ts';

export interface Lease {
  model: string;
  runId: string;
  holder: string;
  takenAt: string;
  expiresAt: string;
}

export interface RunStore {
  /** Creates or replaces a run's record. */
  save(run: RetrainRun): Promise<void>;
  /** A model's runs, newest first. */
  list(model: string, options?: { limit?: number }): Promise<RetrainRun[]>;
  /** One run's record, or undefined when there is none. */
  get(model: string, runId: string): Promise<RetrainRun | undefined>;
  /** Takes the model's lease for `ttlMs`; `conflict` naming the holder when it is taken. */
  acquire(model: string, runId: string, ttlMs: number): Promise<Lease>;
  /** Gives the lease back (only if it is still this run's). */
  release(lease: Lease): Promise<void>;
  /** The current lease, if any (expired ones included, with their expiry). */
  current(model: string): Promise<Lease | undefined>;
}

/** A new run id: sortable by time, unique across machines. */
export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

const RUN_ID = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;
const encode = (value: unknown): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(value, null, 2));

function decode<T>(bytes: Uint8Array, where: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (error) {
    throw new MscrError('integrity', `${where} is not JSON: ${errorMessage(error)}`);
  }
}

export function createRunStore(objects: ObjectStore): RunStore {
  const runsPrefix = (model: string) => `${validateModelName(model)}/retraining/runs/`;
  const leaseKey = (model: string) => `${validateModelName(model)}/retraining/lease.json`;

  const readLease = async (model: string): Promise<{ lease: Lease; raw: string } | undefined> => {
    try {
      const bytes = await objects.get(leaseKey(model));
      return {
        lease: decode<Lease>(bytes, `${objects.uri}/${leaseKey(model)}`),
        raw: new TextDecoder().decode(bytes),
      };
    } catch (error) {
      if (isMscrError(error, 'not_found')) return undefined;
      throw error;
    }
  };

  return {
    async save(run) {
      if (!RUN_ID.test(run.id))
        throw new MscrError('bad_request', `invalid run id ${JSON.stringify(run.id)}`);
      await objects.put(`${runsPrefix(run.model)}${run.id}.json`, encode(run));
    },

    async list(model, options = {}) {
      const prefix = runsPrefix(model);
      const { objects: names } = await objects.list(prefix);
      const ids = names
        .filter((name) => name.endsWith('.json') && RUN_ID.test(name.slice(0, -5)))
        .sort()
        .reverse()
        .slice(0, options.limit ?? 50);
      const runs = await Promise.all(
        ids.map(async (name) =>
          decode<RetrainRun>(await objects.get(prefix + name), `${objects.uri}/${prefix}${name}`),
        ),
      );
      return runs;
    },

    async get(model, runId) {
      if (!RUN_ID.test(runId)) return undefined;
      const key = `${runsPrefix(model)}${runId}.json`;
      try {
        return decode<RetrainRun>(await objects.get(key), `${objects.uri}/${key}`);
      } catch (error) {
        if (isMscrError(error, 'not_found')) return undefined;
        throw error;
      }
    },

    async acquire(model, runId, ttlMs) {
      const now = Date.now();
      const lease: Lease = {
        model,
        runId,
        holder: `${hostname()}:${process.pid}`,
        takenAt: new Date(now).toISOString(),
        expiresAt: new Date(now + ttlMs).toISOString(),
      };
      for (let attempt = 0; attempt < 3; attempt++) {
        if (await objects.putIfAbsent(leaseKey(model), encode(lease))) return lease;
        const held = await readLease(model);
        if (held === undefined) continue; // released meanwhile: try again
        if (Date.parse(held.lease.expiresAt) > Date.now()) {
          throw new MscrError(
            'conflict',
            `a retraining run for ${model} is already running (run ${held.lease.runId} on ${held.lease.holder}, lease until ${held.lease.expiresAt})`,
          );
        }
        // Expired: break it if it is still the record we read, then race for it again.
        const again = await readLease(model);
        if (again?.raw === held.raw) await objects.delete(leaseKey(model));
      }
      throw new MscrError(
        'conflict',
        `could not take the retraining lease of ${model}: other runs keep taking it`,
      );
    },

    async release(lease) {
      const held = await readLease(lease.model);
      if (held?.lease.runId === lease.runId) await objects.delete(leaseKey(lease.model));
    },

    async current(model) {
      return (await readLease(model))?.lease;
    },
  };
}
