/**
 * A `ModelEvaluator` (SR connector) that scores a version in a child process
 * (`mscr evaluate --json`), for `POST /mscr/models/{m}/evaluate`.
 *
 * Why a child and not the serving process: an evaluation loads a whole version and a data
 * set and runs inference over all of it, seconds to minutes of CPU-bound TF.js work. On the
 * serving process's event loop that would stall every request for its duration; on the
 * inference worker pool it would queue behind (and in front of) live traffic with no way to
 * stop it. A child, as retraining does, keeps the event loop free, keeps its memory apart
 * (a large data set cannot take the Service down), and can be killed: when the client goes
 * away, or when it runs past `timeoutMs`. At most `maxConcurrent` run at once (default 1;
 * a 2-core serving pod has little to spare), further requests are a 429 to retry later.
 */
import { spawn } from 'node:child_process';
import { MscrError, type ErrorCode } from '../connectors/errors.ts';
import type { EvaluateRequest, EvaluateResponse, ModelEvaluator } from '../connectors/sr/train.ts';

export interface ProcessEvaluatorOptions {
  /** Executable and arguments of one evaluation (its stdout is the JSON result). */
  command: (model: string, request: EvaluateRequest) => { file: string; args: string[] };
  env?: NodeJS.ProcessEnv;
  /** Default 10 minutes. */
  timeoutMs?: number;
  /** Default 1. */
  maxConcurrent?: number;
}

/** Most output read from a child: its JSON answer is small; anything beyond is cut. */
const MAX_OUTPUT = 1024 * 1024;

/** The CLI's exit codes (cli/exit-codes.ts) back to error codes. */
const CODE_BY_EXIT: Record<number, ErrorCode> = {
  2: 'bad_request',
  3: 'bad_data',
  4: 'not_found',
  5: 'unavailable',
  6: 'integrity',
  7: 'conflict',
};

export function createProcessEvaluator(
  options: ProcessEvaluatorOptions,
): ModelEvaluator & { running(): number } {
  const timeoutMs = options.timeoutMs ?? 600_000;
  const maxConcurrent = options.maxConcurrent ?? 1;
  let running = 0;
  return {
    running: () => running,
    async evaluate(model, request, signal) {
      if (running >= maxConcurrent) {
        throw new MscrError(
          'unavailable',
          `${running} evaluation${running === 1 ? ' is' : 's are'} already running here; try again when it has finished`,
          { status: 429 },
        );
      }
      running++;
      try {
        return await evaluateInChild(model, request, signal);
      } finally {
        running--;
      }
    },
  };

  function evaluateInChild(
    model: string,
    request: EvaluateRequest,
    signal: AbortSignal | undefined,
  ): Promise<EvaluateResponse> {
    const { file, args } = options.command(model, request);
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, {
        env: options.env ?? process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let why: string | undefined;
      child.stdout.on('data', (chunk: Buffer) => {
        if (stdout.length < MAX_OUTPUT) stdout += chunk.toString('utf8');
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString('utf8')).slice(-8192);
      });
      const stop = (reason: string) => {
        why ??= reason;
        child.kill('SIGKILL');
      };
      const timer = setTimeout(
        () => stop(`the evaluation ran longer than ${Math.round(timeoutMs / 1000)} s`),
        timeoutMs,
      );
      const onAbort = () => stop('the client went away');
      signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (error) => stop(`could not start the evaluation: ${error.message}`));
      child.on('close', (code) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (why !== undefined) {
          reject(new MscrError('unavailable', why));
          return;
        }
        if (code !== 0) {
          // The CLI's last line is `mscr: <message>`.
          const line =
            stderr
              .trim()
              .split('\n')
              .reverse()
              .find((l) => l.startsWith('mscr: ')) ?? `the evaluation exited with code ${code}`;
          reject(new MscrError(CODE_BY_EXIT[code ?? 1] ?? 'internal', line.replace(/^mscr: /, '')));
          return;
        }
        try {
          const json = JSON.parse(stdout) as EvaluateResponse;
          resolve({
            model: json.model,
            version: json.version,
            metrics: json.metrics,
            ...(json.report !== undefined ? { report: json.report } : {}),
          });
        } catch {
          reject(new MscrError('internal', 'the evaluation did not print its JSON result'));
        }
      });
    });
  }
}
