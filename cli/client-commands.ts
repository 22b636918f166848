/** The Client layer's commands: `mscr predict`, `mscr status`, `mscr feedback`. */
import type { Command } from 'commander';
import { registerFeedbackCommand } from './feedback.ts';
import { registerPredictCommand } from './predict.ts';
import { registerStatusCommand } from './status.ts';

export function registerClientCommands(program: Command): void {
  registerPredictCommand(program);
  registerStatusCommand(program);
  registerFeedbackCommand(program);
}
