/**
 * The rollout panel: the model's rollout and both versions' live figures side by side, read
 * from `GET /mscr/models/{m}/rollout` with the admin token (the figures are this replica's
 * window of the current step, as its controller judges them).
 */

interface Side {
  requests: number;
  errorRate: number;
  p99Ms: number | null;
  accuracy: number | null;
  feedback: number;
}

export interface RolloutView {
  model: string;
  rollout: {
    stable: number;
    candidate: number;
    mode: string;
    phase: string;
    weight: number;
    steps: number[];
    reason?: string;
  } | null;
  decisions: { at: string; decision: string; by: string; reason: string }[];
  live: {
    decision: string;
    reason: string;
    figures: { stable: Side; candidate: Side; psi: number | null; agreement: number | null };
  } | null;
}

/** Reads the rollout; throws an Error with the server's message on any non-200. */
export async function fetchRollout(
  baseUrl: string,
  model: string,
  token: string,
): Promise<RolloutView> {
  const response = await fetch(
    new URL(`mscr/models/${encodeURIComponent(model)}/rollout`, baseUrl),
    {
      headers: { Authorization: `Bearer ${token}` },
    },
  );
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) throw new Error(`the service answered ${response.status}: ${body.error ?? ''}`);
  return body as unknown as RolloutView;
}

const show = (value: number | null, format: (v: number) => string) =>
  value === null ? '–' : format(value);
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const ms = (v: number) => `${v.toFixed(1)} ms`;

/** The rows of the side-by-side table: figure, stable, candidate. */
export function rolloutRows(view: RolloutView): string[][] {
  const live = view.live?.figures;
  if (view.rollout === null || live === undefined) return [];
  const { stable, candidate } = live;
  return [
    ['version', `${view.rollout.stable} (stable)`, `${view.rollout.candidate} (candidate)`],
    ['requests', String(stable.requests), String(candidate.requests)],
    ['error rate', pct(stable.errorRate), pct(candidate.errorRate)],
    ['p99 latency', show(stable.p99Ms, ms), show(candidate.p99Ms, ms)],
    [
      'feedback accuracy',
      `${show(stable.accuracy, pct)} (${stable.feedback})`,
      `${show(candidate.accuracy, pct)} (${candidate.feedback})`,
    ],
    ['prediction PSI', '', show(live.psi, (v) => v.toFixed(3))],
    ['shadow agreement', '', show(live.agreement, pct)],
  ];
}

/** One line about the rollout's state. */
export function rolloutSummary(view: RolloutView): string {
  const r = view.rollout;
  if (r === null) return `${view.model} has no rollout.`;
  const share = r.mode === 'canary' ? ` at ${r.weight} %` : '';
  const now = view.live === null ? '' : ` Now: ${view.live.decision} (${view.live.reason}).`;
  return `${r.phase} ${r.mode}${share}: version ${r.candidate} against ${r.stable}${r.reason ? ` (${r.reason})` : ''}.${now}`;
}
