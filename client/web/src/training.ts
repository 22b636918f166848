/**
 * A running training's progress curve on the page: the run's Server-Sent Events (through
 * the SDK's `trainEvents`, a streaming fetch that carries the admin token, which an
 * EventSource cannot) become one point per finished epoch, across the trials in order,
 * drawn with the page's SVG line chart; each trial's held-out result and the final report
 * are listed under it.
 */
import type { MscrClient, RetrainRun, TrainEvent } from '../../index.ts';
import type { ProgressEntry } from '../../../connectors/sr/train.ts';
import { escapeXml, lineChartSvg, type ChartPoint } from './chart.ts';

/** The loss curve so far: x = epochs finished over all trials, actual = training loss. */
export function lossCurve(entries: readonly ProgressEntry[]): ChartPoint[] {
  return entries
    .filter((e): e is Extract<ProgressEntry, { type: 'epoch' }> => e.type === 'epoch')
    .map((e, i) => ({ x: i + 1, actual: e.loss }));
}

/** One line per finished trial, and the report's outcome. */
export function progressLines(entries: readonly ProgressEntry[], report?: RetrainRun): string[] {
  const lines = entries.flatMap((e) => {
    if (e.type !== 'trial') return [];
    const metrics = Object.entries(e.record.metrics ?? {})
      .map(([k, v]) => `${k} ${v.toFixed(4)}`)
      .join(', ');
    return [
      `trial ${e.record.trial} ${JSON.stringify(e.record.hyperparameters)}: ${e.record.error ?? metrics}`,
    ];
  });
  if (report !== undefined) {
    lines.push(
      `${report.outcome}${report.message ? `: ${report.message}` : ''}${report.published ? ` (version ${report.published.version})` : ''}`,
    );
  }
  return lines;
}

/** Follows run `id`, redrawing `figure` and `list` as events arrive; resolves at the report. */
export async function followTraining(
  client: MscrClient,
  id: string,
  token: string,
  figure: HTMLElement,
  list: HTMLElement,
  signal?: AbortSignal,
): Promise<void> {
  const entries: ProgressEntry[] = [];
  let report: RetrainRun | undefined;
  const draw = () => {
    figure.hidden = false;
    figure.innerHTML = lineChartSvg(lossCurve(entries), {
      title: `Training loss of run ${id}`,
      valueName: 'loss',
      xName: 'epoch (all trials in order)',
      legend: ['training loss', ''],
      unit: 'epochs',
    });
    list.innerHTML = progressLines(entries, report)
      .map((line) => `<li>${escapeXml(line)}</li>`)
      .join('');
  };
  draw();
  for await (const event of client.trainEvents(id, { token, ...(signal ? { signal } : {}) })) {
    if (event.event === 'report') report = (event as Extract<TrainEvent, { event: 'report' }>).data;
    else entries.push(event.data as ProgressEntry);
    draw();
  }
}
