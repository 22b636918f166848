/**
 * What the client commands (`mscr predict`, `status`, `feedback`) share: where the service
 * is, how long to wait, how often to retry. They talk to the Service only through the SDK.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { createClient, type MscrClient } from '../client/index.ts';
import { positiveNumber } from './options.ts';

export const DEFAULT_URL = 'http://localhost:8080';

export interface ClientFlags {
  url: string;
  timeout: number;
  retries: number;
  json?: boolean;
}

function retriesOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 10) {
    throw new InvalidArgumentError(
      `expected a number of retries from 0 to 10, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** Adds --url, --timeout, --retries and --json to a command. */
export function addClientOptions(command: Command): Command {
  return command
    .option(
      '--url <url>',
      `the service's base URL [env MSCR_URL] (default ${DEFAULT_URL})`,
      process.env.MSCR_URL || DEFAULT_URL,
    )
    .option('--timeout <seconds>', 'longest wait for one answer', positiveNumber, 30)
    .option(
      '--retries <n>',
      'retries on 503 and connection errors, with exponential backoff',
      retriesOption,
      2,
    )
    .option('--json', 'print JSON instead of a table');
}

export function clientFor(flags: ClientFlags): MscrClient {
  return createClient({
    baseUrl: flags.url,
    timeoutMs: Math.round(flags.timeout * 1000),
    retries: flags.retries,
  });
}
