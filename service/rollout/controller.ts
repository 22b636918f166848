/**
 * The rollout controller, in the Service: every `--rollout-interval` it runs the analyser on
 * each running rollout's window and acts on the decision: advance the canary a step, promote
 * (the `stable` alias moves to the candidate), or roll back. Every decision is recorded with
 * the figures it used (a repeated `hold` for the same reason only once per step).
 *
 * Before acting it re-reads the state from the store, so a person's promote or abort, or
 * another replica's decision, is never undone by a stale one. (Replicas decide on their own
 * windows; two of them may both advance one step, which is the same write. The store has no
 * compare-and-swap on replace, so a truly concurrent abort and advance are last-writer-wins,
 * as for aliases.)
 */
import { errorMessage } from '../../connectors/errors.ts';
import { isActive, type RolloutState } from '../../connectors/store/rollout.ts';
import type { Logger } from '../observability/log.ts';
import {
  advanceRollout,
  finishRollout,
  type RolloutDeps,
} from '../../connectors/store/rollout-actions.ts';
import { analyse, type Analysis } from './analyser.ts';
import type { RolloutRouter } from './router.ts';
import { windowKey } from './window.ts';

export interface RolloutControllerOptions extends RolloutDeps {
  router: RolloutRouter;
  intervalMs: number;
  logger?: Logger;
  /**
   * Why a version failed to load on this replica, if it did (the manager's FAILED state): a
   * candidate that cannot load gets no traffic, so without this it would hold forever.
   */
  loadFailure?: (model: string, version: number) => string | undefined;
  /** After this replica changed a state (poll the store now, so the manager follows). */
  onChange?: (state: RolloutState) => void;
}

export interface TickResult {
  model: string;
  analysis?: Analysis;
  /** The state after acting (a changed one unless `hold`). */
  state?: RolloutState;
  error?: string;
}

export interface RolloutController {
  /** Analyses every running rollout once and acts; never rejects. */
  tick(): Promise<TickResult[]>;
  start(): void;
  stop(): Promise<void>;
}

export function createRolloutController(options: RolloutControllerOptions): RolloutController {
  const { router, logger } = options;
  const now = options.now ?? (() => new Date());
  const lastHold = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = true;

  const one = async (cached: RolloutState): Promise<TickResult> => {
    const model = cached.model;
    const state = await options.rollouts.read(model);
    if (!isActive(state) || windowKey(state) !== windowKey(cached)) {
      // Someone else moved it meanwhile: follow, and judge the new step next time.
      if (state !== undefined) router.apply(state);
      return { model, ...(state !== undefined ? { state } : {}) };
    }
    const failure = options.loadFailure?.(model, state.candidate);
    if (failure !== undefined) {
      const reason = `candidate version ${state.candidate} failed to load: ${failure}`.slice(
        0,
        1000,
      );
      const next = await finishRollout(options, state, 'rollback', 'controller', reason, {});
      router.apply(next);
      logger?.info('rollout rollback', { model, candidate: state.candidate, reason });
      options.onChange?.(next);
      return { model, state: next };
    }
    const window = router.window(model);
    if (window === undefined) return { model, state };
    const analysis = analyse({
      mode: state.mode,
      steps: state.steps,
      step: state.step,
      stepElapsedMs: now().getTime() - Date.parse(state.stepStartedAt),
      stepEveryMs: state.stepEveryMs,
      thresholds: state.thresholds,
      stable: window.side('stable'),
      candidate: window.side('candidate'),
      ...(state.mode === 'shadow' ? { shadow: { ...window.shadow } } : {}),
    });
    const figures = {
      ...analysis.figures,
      shadowSkipped: window.shadow.skipped,
      failed: analysis.failed,
    };
    let next: RolloutState;
    switch (analysis.decision) {
      case 'hold': {
        const gist = `${window.key}|${analysis.reason.split(/[;:]/)[0] ?? ''}`;
        if (lastHold.get(model) !== gist) {
          lastHold.set(model, gist);
          await options.rollouts.record({
            model,
            at: now().toISOString(),
            decision: 'hold',
            by: 'controller',
            reason: analysis.reason,
            stable: state.stable,
            candidate: state.candidate,
            mode: state.mode,
            weight: state.weight,
            figures,
          });
        }
        return { model, analysis, state };
      }
      case 'advance':
        next = await advanceRollout(
          options,
          state,
          analysis.nextWeight ?? state.weight,
          'controller',
          analysis.reason,
          figures,
        );
        break;
      case 'promote':
      case 'rollback':
        next = await finishRollout(
          options,
          state,
          analysis.decision,
          'controller',
          analysis.reason,
          figures,
        );
        break;
    }
    lastHold.delete(model);
    router.apply(next);
    logger?.info(`rollout ${analysis.decision}`, {
      model,
      stable: state.stable,
      candidate: state.candidate,
      weight: next.weight,
      reason: analysis.reason,
    });
    options.onChange?.(next);
    return { model, analysis, state: next };
  };

  const tick = async (): Promise<TickResult[]> =>
    Promise.all(
      router.active().map((state) =>
        one(state).catch((error: unknown) => {
          logger?.warn('rollout analysis failed; will try again', {
            model: state.model,
            error: errorMessage(error),
          });
          return { model: state.model, error: errorMessage(error) };
        }),
      ),
    );

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };

  return {
    tick: () => {
      const run = running.then(tick);
      running = run.catch(() => undefined);
      return run;
    },
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running.catch(() => undefined);
    },
  };
}
