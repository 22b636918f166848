/**
 * `mscr status --url <service>`: is the service up and ready, which models does it serve,
 * and the state of every version (which one answers by default), through the SDK.
 */
import type { Command } from 'commander';
import { errorMessage } from '../connectors/errors.ts';
import type { ModelMetadata, ServerMetadata } from '../connectors/sc/index.ts';
import type { MscrClient } from '../client/index.ts';
import { addClientOptions, clientFor, type ClientFlags } from './client-options.ts';
import { formatTable, printJson } from './output.ts';

export interface VersionRow {
  version: number;
  state: string;
  /** The version that answers requests that name none (the newest available). */
  serving: boolean;
  error?: string;
}

export interface ModelRow {
  name: string;
  ready: boolean;
  kind?: string;
  input?: string;
  versions: VersionRow[];
  /** Why the model's metadata could not be read (e.g. no version loaded yet). */
  problem?: string;
}

export interface ServiceStatus {
  url: string;
  server: ServerMetadata;
  live: boolean;
  ready: boolean;
  models: ModelRow[];
}

/** What a model is, from its first input's shape. */
export function kindOfMetadata(metadata: ModelMetadata): string {
  const shape = metadata.inputs[0]?.shape ?? [];
  if (shape.length === 4) return 'image classifier';
  if (shape.length === 3) return 'forecaster';
  return 'tensor model';
}

export async function serviceStatus(client: MscrClient): Promise<ServiceStatus> {
  const live = await client.live(); // a service that is down fails here, with exit code 5
  const [ready, server, names] = await Promise.all([
    client.ready(),
    client.serverMetadata(),
    client.listModels(),
  ]);
  const models = await Promise.all(
    names.map(async (name): Promise<ModelRow> => {
      const status = await client.modelStatus(name);
      const versions: VersionRow[] = status.model_version_status.map((v) => ({
        version: Number(v.version),
        state: v.status.error_code !== 'OK' && v.state === 'END' ? 'FAILED' : v.state,
        serving: false,
        ...(v.status.error_code !== 'OK' && v.status.error_message
          ? { error: v.status.error_message }
          : {}),
      }));
      const available = versions.filter((v) => v.state === 'AVAILABLE').map((v) => v.version);
      const serving = available.length > 0 ? Math.max(...available) : undefined;
      for (const v of versions) v.serving = v.version === serving;
      const row: ModelRow = { name, ready: status.ready ?? available.length > 0, versions };
      try {
        const metadata = await client.modelMetadata(name, { retries: 0 });
        row.kind = kindOfMetadata(metadata);
        row.input = `${metadata.inputs[0]?.name ?? '?'} [${(metadata.inputs[0]?.shape ?? []).join(', ')}]`;
      } catch (error) {
        row.problem = errorMessage(error);
      }
      return row;
    }),
  );
  return { url: client.baseUrl, server, live, ready, models };
}

export function formatStatus(status: ServiceStatus): string {
  const head = `${status.server.name} ${status.server.version} at ${status.url}: ${status.live ? 'live' : 'not live'}, ${status.ready ? 'ready' : 'not ready'}`;
  if (status.models.length === 0) return `${head}\nno models are served`;
  const rows: string[][] = [];
  for (const model of status.models) {
    const versions = model.versions.length > 0 ? model.versions : [undefined];
    versions.forEach((v, i) => {
      rows.push([
        i === 0 ? model.name : '',
        i === 0 ? (model.kind ?? '-') : '',
        i === 0 ? (model.input ?? '-') : '',
        v === undefined ? '-' : String(v.version),
        v?.state ?? 'no version loaded',
        v?.serving ? 'yes' : '',
        v?.error ?? (i === 0 && model.problem ? model.problem : ''),
      ]);
    });
  }
  return `${head}\n\n${formatTable(['MODEL', 'KIND', 'INPUT', 'VERSION', 'STATE', 'SERVING', 'PROBLEM'], rows)}`;
}

export function registerStatusCommand(program: Command): void {
  const command = program
    .command('status')
    .description(
      'show whether a running service is live and ready, its models and the state of each version',
    );
  addClientOptions(command)
    .addHelpText(
      'after',
      '\nExample:\n  mscr status --url http://localhost:8080\n\nExit codes: 0 the service answered (ready or not: see the output), 5 it did not answer.',
    )
    .action(async (flags: ClientFlags) => {
      const status = await serviceStatus(clientFor(flags));
      if (flags.json) printJson(status);
      else console.log(formatStatus(status));
    });
}
