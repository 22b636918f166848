/**
 * The `mscr` command line. This folder is the composition root: the one place allowed to
 * import every layer, because a command such as `mscr train` wires the Model layer to a
 * store. The layers themselves only meet through `connectors/`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { errorMessage } from '../connectors/errors.ts';
import { exitCodeFor, EXIT } from './exit-codes.ts';
import { registerTrainCommands } from './train.ts';
import { registerTrainRemoteCommands } from './train-remote.ts';
import { registerModelsCommand } from './models.ts';
import { registerQuickstartCommand } from './quickstart.ts';
import { registerServeCommand } from './serve.ts';
import { registerRetrainCommands } from './retrain.ts';
import { registerClientCommands } from './client-commands.ts';
import { registerSimulateCommand } from './simulate.ts';
import { registerRolloutCommand } from './rollout.ts';
import { registerDataCommands } from './data.ts';

/** The version in package.json: one folder up from the sources, two up from dist/. */
function packageVersion(): string {
  for (const candidate of ['../package.json', '../../package.json']) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(url))
      return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

export function buildProgram(): Command {
  const program = new Command('mscr')
    .description(
      'Model-Service-Client + Retraining: train, publish, serve and retrain TensorFlow.js models',
    )
    .version(packageVersion())
    // Program options only before the subcommand, so `mscr evaluate --version 3` means the model version.
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerTrainCommands(program);
  registerTrainRemoteCommands(program);
  registerModelsCommand(program);
  registerQuickstartCommand(program);
  registerServeCommand(program);
  registerRetrainCommands(program);
  registerClientCommands(program);
  registerSimulateCommand(program);
  registerRolloutCommand(program);
  registerDataCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed the problem (or the help / version text).
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(`mscr: ${errorMessage(error)}\n`);
    if (process.env.MSCR_DEBUG && error instanceof Error && error.stack)
      process.stderr.write(`${error.stack}\n`);
    return exitCodeFor(error);
  }
}
