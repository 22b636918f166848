/**
 * The scenarios the scripts share: a constant arrival rate (`load`, `soak`, `reload`), and
 * named steps of a ramping arrival rate (`stress`, `spike`), each ramping from the previous
 * rate to its own and holding it, with every request tagged by its step so the summary shows
 * rate, latency and errors per step and finds the knee. Runs in k6, not Node.
 */
import exec from 'k6/execution';
import type { Options } from 'k6/options';
import { common, envInt } from './config.ts';
import { discover, mixedRequest, pickTarget, waitReady, type Target } from './api.ts';
import {
  correctnessThresholds,
  summaryTrendStats,
  track,
  type Stage,
  type SummaryData,
} from './summary.ts';

export interface TargetData {
  target: Target;
  /** When setup ended (ms since the epoch). */
  startedAt: number;
}

/** setup() of the load scripts: wait for readiness, pick the model to load. */
export function setupTarget(): TargetData {
  waitReady();
  return { target: pickTarget(discover()), startedAt: Date.now() };
}

/** The model setup picked, for the summary. */
export function targetOf(data: SummaryData): Target | undefined {
  return (data.setup_data as Partial<TargetData> | undefined)?.target;
}

/** RATE requests per `timeUnit` for `duration`, VUs from PRE_VUS / MAX_VUS. */
export function constantRate(rate: number, timeUnit: string, duration: string, minVus = 4) {
  return {
    executor: 'constant-arrival-rate' as const,
    rate,
    timeUnit,
    duration,
    preAllocatedVUs: envInt('PRE_VUS', Math.max(minVus, Math.ceil(rate / 4))),
    maxVUs: envInt('MAX_VUS', Math.max(minVus * 5, rate * 2)),
  };
}

export interface Step {
  name: string;
  /** Requests per second during the hold. */
  rate: number;
  rampSeconds: number;
  holdSeconds: number;
}

/** What the summary expects of each step: the iterations its ramp and hold start. */
export function expectations(startRate: number, steps: Step[]): Stage[] {
  let previous = startRate;
  return steps.map((step) => {
    const stage = {
      name: step.name,
      targetRate: step.rate,
      expected: ((previous + step.rate) / 2) * step.rampSeconds + step.rate * step.holdSeconds,
      seconds: step.rampSeconds + step.holdSeconds,
    };
    previous = step.rate;
    return stage;
  });
}

/**
 * The options of a stepped script: one `ramping-arrival-rate` scenario named `name`, the
 * correctness thresholds, per-step figures, and `thresholds` on top.
 */
export function steppedOptions(
  name: string,
  startRate: number,
  steps: Step[],
  thresholds: Record<string, string[]> = {},
): Options {
  const stages = steps.flatMap((step) => [
    ...(step.rampSeconds > 0 ? [{ target: step.rate, duration: `${step.rampSeconds}s` }] : []),
    { target: step.rate, duration: `${step.holdSeconds}s` },
  ]);
  return {
    scenarios: {
      [name]: {
        executor: 'ramping-arrival-rate',
        startRate,
        timeUnit: '1s',
        stages,
        // VUs started mid-run cost time and drop iterations: start enough up front.
        preAllocatedVUs: envInt('PRE_VUS', 40),
        maxVUs: envInt('MAX_VUS', 100),
      },
    },
    thresholds: {
      ...correctnessThresholds(common.protocols),
      ...track(
        'stage',
        steps.map((s) => s.name),
      ),
      ...thresholds,
    },
    summaryTrendStats,
  };
}

/** The step the scenario is in now. */
export function currentStep(steps: Step[]): string {
  let elapsed = (Date.now() - exec.scenario.startTime) / 1000;
  for (const step of steps) {
    elapsed -= step.rampSeconds + step.holdSeconds;
    if (elapsed < 0) return step.name;
  }
  return steps.at(-1)?.name ?? 'none';
}

/** The iteration of a stepped script: one request of the mix, tagged with its step. */
export function steppedIteration(steps: Step[]) {
  return (data: TargetData): void => {
    mixedRequest(data.target, exec.scenario.iterationInTest, { stage: currentStep(steps) });
  };
}

/** The iteration of a constant-rate script: one request of the mix. */
export function mixedIteration(data: TargetData): void {
  mixedRequest(data.target, exec.scenario.iterationInTest);
}
