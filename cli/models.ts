/** `mscr models ...`: what an operator needs to see and move in a model store. */
import type { Command } from 'commander';
import { openStore } from '../connectors/store/index.ts';
import type { ModelManifest } from '../connectors/ms/manifest.ts';
import { collectGarbage } from '../connectors/store/gc.ts';
import { registerImportCommand } from './import.ts';
import { DEFAULT_STORE, duration, versionRef } from './options.ts';
import { formatTable, printJson } from './output.ts';

interface StoreOption {
  store: string;
  json?: boolean;
}

function summariseMetrics(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .slice(0, 3)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(4)}`)
    .join(' ');
}

export function registerModelsCommand(program: Command): void {
  const models = program
    .command('models')
    .description(
      'list, inspect, import, promote, roll back and clean up the versions in a model store',
    );
  registerImportCommand(models);

  models
    .command('list')
    .description('list the models in a store with their versions and aliases')
    .option(
      '--store <uri>',
      'model store URI (file://, s3://, gs://)',
      process.env.MSCR_STORE || DEFAULT_STORE,
    )
    .option('--json', 'print JSON instead of a table')
    .action(async (options: StoreOption) => {
      const store = openStore(options.store);
      const rows = [];
      for (const name of await store.listModels()) {
        const statuses = await store.inspectVersions(name);
        const ready = statuses.filter((s) => s.state === 'ready').map((s) => s.version);
        const aliases = await store.listAliases(name);
        rows.push({
          model: name,
          versions: ready,
          latest: ready.at(-1) ?? null,
          aliases,
          notReady: statuses
            .filter((s) => s.state !== 'ready')
            .map((s) => ({ version: s.version, state: s.state, problem: s.problem })),
        });
      }
      if (options.json) return printJson(rows);
      if (rows.length === 0) {
        console.log(`no models in ${store.uri}`);
        return;
      }
      console.log(
        formatTable(
          ['MODEL', 'VERSIONS', 'LATEST', 'ALIASES', 'NOT READY'],
          rows.map((r) => [
            r.model,
            r.versions.join(',') || '-',
            String(r.latest ?? '-'),
            Object.entries(r.aliases)
              .map(([a, v]) => `${a}->${v}`)
              .join(' ') || '-',
            r.notReady.map((n) => `${n.version} (${n.state})`).join(' ') || '-',
          ]),
        ),
      );
    });

  models
    .command('show')
    .description('show the versions of one model, or the manifest of one version')
    .argument('<model>', 'model name')
    .argument('[version]', 'version number, "latest" or an alias')
    .option('--store <uri>', 'model store URI', process.env.MSCR_STORE || DEFAULT_STORE)
    .option('--verify', 'verify the sha256 of every file (reads all weights)')
    .option('--json', 'print JSON')
    .action(
      async (
        model: string,
        version: string | undefined,
        options: StoreOption & { verify?: boolean },
      ) => {
        const store = openStore(options.store);
        if (version !== undefined) {
          const resolved = await store.resolve(model, versionRef(version));
          const manifest: ModelManifest = options.verify
            ? (await store.readVersion(model, resolved)).manifest
            : await store.readManifest(model, resolved);
          return printJson(manifest);
        }
        const statuses = await store.inspectVersions(model, {
          verifyChecksums: options.verify === true,
        });
        const aliases = await store.listAliases(model);
        if (options.json) return printJson({ model, versions: statuses, aliases });
        const aliasOf = (v: number) =>
          Object.entries(aliases)
            .filter(([, target]) => target === v)
            .map(([a]) => a)
            .join(',');
        console.log(
          formatTable(
            ['VERSION', 'STATE', 'ALIASES', 'CREATED', 'ARCHITECTURE', 'METRICS', 'PROBLEM'],
            statuses.map((s) => [
              String(s.version),
              s.state,
              aliasOf(s.version) || '-',
              s.manifest?.createdAt ?? '-',
              s.manifest?.architecture ?? '-',
              s.manifest ? summariseMetrics(s.manifest.metrics) : '-',
              s.problem ?? '',
            ]),
          ),
        );
      },
    );

  models
    .command('promote')
    .description(
      'point an alias (default "stable") at a version: one write, picked up by serving on its next poll',
    )
    .argument('<model>', 'model name')
    .argument('<version>', 'version number, "latest" or another alias')
    .option('--alias <name>', 'alias to move', 'stable')
    .option('--store <uri>', 'model store URI', process.env.MSCR_STORE || DEFAULT_STORE)
    .action(async (model: string, version: string, options: StoreOption & { alias: string }) => {
      const store = openStore(options.store);
      const target = await store.resolve(model, versionRef(version));
      const { previous } = await store.setAlias(model, options.alias, target);
      console.log(
        `${model}: ${options.alias} -> ${target}${previous === undefined ? '' : ` (was ${previous})`}`,
      );
    });

  models
    .command('rollback')
    .description('move an alias back to the version it pointed at before its last move')
    .argument('<model>', 'model name')
    .option('--alias <name>', 'alias to move back', 'stable')
    .option('--store <uri>', 'model store URI', process.env.MSCR_STORE || DEFAULT_STORE)
    .action(async (model: string, options: StoreOption & { alias: string }) => {
      const store = openStore(options.store);
      const { from, to } = await store.rollbackAlias(model, options.alias);
      console.log(`${model}: ${options.alias} -> ${to} (was ${from})`);
    });

  models
    .command('gc')
    .description(
      'remove what failed publishes left: versions without a manifest (and with --invalid, invalid ones)',
    )
    .option('--store <uri>', 'model store URI', process.env.MSCR_STORE || DEFAULT_STORE)
    .option('--model <name...>', 'models to clean (default: all)')
    .option(
      '--older-than <duration>',
      'only versions claimed longer ago than this, so uploads in progress are left alone (90s, 30m, 2h, 7d)',
      duration,
      3_600_000,
    )
    .option('--invalid', 'also remove versions whose manifest is invalid (never an alias target)')
    .option('--force', 'also remove incomplete versions whose claim time is unknown')
    .option('--dry-run', 'show what would be removed, remove nothing')
    .option('--json', 'print JSON')
    .action(
      async (
        options: StoreOption & {
          model?: string[];
          olderThan: number;
          invalid?: boolean;
          force?: boolean;
          dryRun?: boolean;
        },
      ) => {
        const store = openStore(options.store);
        const entries = await collectGarbage(store, {
          olderThanMs: options.olderThan,
          ...(options.model ? { models: options.model } : {}),
          invalid: options.invalid === true,
          force: options.force === true,
          dryRun: options.dryRun === true,
        });
        const failed = entries.some((entry) => entry.action === 'failed');
        if (failed) process.exitCode = 1;
        if (options.json) return printJson(entries);
        if (entries.length === 0) {
          console.log(`nothing to clean in ${store.uri}: every version is ready`);
          return;
        }
        const age = (ms: number | undefined): string =>
          ms === undefined
            ? '?'
            : ms < 3_600_000
              ? `${Math.round(ms / 60_000)}m`
              : `${(ms / 3_600_000).toFixed(1)}h`;
        console.log(
          formatTable(
            ['MODEL', 'VERSION', 'STATE', 'AGE', 'ACTION', 'WHY'],
            entries.map((e) => [
              e.model,
              String(e.version),
              e.state,
              age(e.ageMs),
              e.action,
              e.reason,
            ]),
          ),
        );
      },
    );
}
