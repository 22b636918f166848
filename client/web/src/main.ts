/**
 * The web page of the Client layer, served by the Service at `/`: pick a model, classify an
 * image, forecast a price CSV against its actual values, see the versions, send feedback,
 * trigger retraining. Plain DOM and the SDK, bundled by esbuild into `public/app.js`
 * (`npm run build:web`); no framework, nothing fetched from elsewhere.
 */
import {
  createClient,
  isMscrClientError,
  looksLikeDetector,
  type ClassifyResponse,
  type DetectResponse,
  type ModelMetadata,
  type MscrClient,
  type RetrainRun,
  type SeriesForecast,
  type V1ModelResponse,
} from '../../index.ts';
import { lineChartSvg } from './chart.ts';
import { boxesJson, detectionItems, drawDetections, parseBoxesText } from './detect.ts';
import { fetchRollout, rolloutRows, rolloutSummary } from './rollout.ts';
import { followTraining } from './training.ts';

type Kind = 'image' | 'detector' | 'series' | 'other';

interface PageState {
  model?: string;
  kind?: Kind;
  version?: string;
  labels: string[];
  /** Bumped on every model switch, so late answers for the previous model are dropped. */
  generation: number;
}

const state: PageState = { labels: [], generation: 0 };

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

type Child = Node | string | undefined | false;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) {
    if (child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

const percent = (score: number) => `${(score * 100).toFixed(1)} %`;
const number = (value: number | undefined, digits = 2) =>
  value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits);

/** What went wrong, in words for a person; the server's own message when it sent one. */
export function describeError(error: unknown): string {
  if (isMscrClientError(error)) {
    const server = error.serverMessage ?? error.message;
    switch (error.kind) {
      case 'http':
        if (error.httpStatus === 401 || error.httpStatus === 403)
          return `the service refused the admin token (${error.httpStatus}): ${server}`;
        if (error.httpStatus === 501) return `the service does not offer this (501): ${server}`;
        if (error.httpStatus === 503) return `the service cannot answer right now (503): ${server}`;
        return `the service answered ${error.httpStatus}: ${server}`;
      case 'network':
        return 'cannot reach the service: is it still running?';
      case 'timeout':
        return 'the service did not answer in time';
      default:
        return error.message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

function showError(container: HTMLElement, what: string, error: unknown): void {
  container.removeAttribute('aria-busy');
  container.replaceChildren(
    el('p', { class: 'error', role: 'alert' }, `${what}: ${describeError(error)}`),
  );
}

function busy(container: HTMLElement, text: string): void {
  container.setAttribute('aria-busy', 'true');
  container.replaceChildren(el('p', { class: 'pending' }, text));
}

function done(container: HTMLElement, ...children: Child[]): void {
  container.removeAttribute('aria-busy');
  container.replaceChildren(
    ...children.filter((c): c is Node | string => c !== undefined && c !== false),
  );
}

function kindOf(metadata: ModelMetadata): Kind {
  const shape = metadata.inputs[0]?.shape ?? [];
  if (looksLikeDetector(metadata)) return 'detector';
  if (shape.length === 4) return 'image';
  if (shape.length === 3) return 'series';
  return 'other';
}

function versionOption(): { version?: string } {
  return state.version ? { version: state.version } : {};
}

// ---------------------------------------------------------------- server and models

async function loadServer(client: MscrClient): Promise<void> {
  const status = byId('server-status');
  try {
    const [server, ready] = await Promise.all([client.serverMetadata(), client.ready()]);
    status.textContent = `${server.name} ${server.version} · ${ready ? 'ready' : 'not ready: models are still loading'}`;
    status.dataset.ready = String(ready);
  } catch (error) {
    status.textContent = 'not connected';
    const pageError = byId('page-error');
    pageError.textContent = `Cannot talk to the service: ${describeError(error)}`;
    pageError.hidden = false;
    throw error;
  }
}

async function loadModels(client: MscrClient): Promise<void> {
  const select = byId<HTMLSelectElement>('model-select');
  const models = await client.listModels();
  select.replaceChildren(...models.map((m) => el('option', { value: m }, m)));
  select.disabled = models.length === 0;
  if (models.length === 0) {
    select.append(el('option', { value: '' }, 'no models served'));
    byId('model-info').textContent = 'The service serves no models yet.';
    return;
  }
  const wanted = new URLSearchParams(location.search).get('model');
  const first = wanted !== null && models.includes(wanted) ? wanted : (models[0] as string);
  select.value = first;
  await selectModel(client, first);
}

function metricsText(metrics: Record<string, number> | undefined): string {
  if (metrics === undefined) return '–';
  const entries = Object.entries(metrics);
  if (entries.length === 0) return '–';
  return entries
    .slice(0, 4)
    .map(([name, value]) => `${name} ${Number.isInteger(value) ? value : value.toFixed(4)}`)
    .join(', ');
}

/** Held-out metrics per version, from the retraining runs that measured them. */
function metricsByVersion(runs: readonly RetrainRun[]): Map<number, Record<string, number>> {
  const found = new Map<number, Record<string, number>>();
  for (const run of [...runs].reverse()) {
    if (run.baseline) found.set(run.baseline.version, run.baseline.metrics);
    if (run.published && run.candidate) found.set(run.published.version, run.candidate.metrics);
  }
  return found;
}

function renderVersions(
  status: V1ModelResponse,
  metrics: Map<number, Record<string, number>>,
): void {
  const versions = status.model_version_status.map((v) => ({
    version: Number(v.version),
    state: v.status.error_code !== 'OK' && v.state === 'END' ? 'FAILED' : v.state,
    error: v.status.error_code !== 'OK' ? v.status.error_message : '',
  }));
  const available = versions.filter((v) => v.state === 'AVAILABLE').map((v) => v.version);
  const serving = available.length > 0 ? Math.max(...available) : undefined;
  const body = byId('versions-body');
  if (versions.length === 0) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: '4' }, 'no version loaded yet')));
    return;
  }
  body.replaceChildren(
    ...versions.map((v) =>
      el(
        'tr',
        v.version === serving ? { class: 'serving' } : {},
        el('th', { scope: 'row' }, String(v.version)),
        el(
          'td',
          { class: `state state-${v.state.toLowerCase()}` },
          v.state,
          v.error ? ` – ${v.error}` : '',
        ),
        el('td', {}, v.version === serving ? 'serving' : ''),
        el('td', {}, metricsText(metrics.get(v.version))),
      ),
    ),
  );
  const versionSelect = byId<HTMLSelectElement>('version-select');
  const previous = versionSelect.value;
  versionSelect.replaceChildren(
    el('option', { value: '' }, 'the serving version'),
    ...available
      .sort((a, b) => b - a)
      .map((v) => el('option', { value: String(v) }, `version ${v}`)),
  );
  versionSelect.value = available.map(String).includes(previous) ? previous : '';
  state.version = versionSelect.value || undefined;
}

function renderRuns(runs: readonly RetrainRun[] | undefined, problem?: string): void {
  const body = byId('runs-body');
  if (runs === undefined || runs.length === 0) {
    body.replaceChildren(
      el('tr', {}, el('td', { colspan: '6' }, problem ?? 'no retraining runs yet')),
    );
    return;
  }
  body.replaceChildren(
    ...runs
      .slice(0, 10)
      .map((run) =>
        el(
          'tr',
          {},
          el('th', { scope: 'row' }, run.id),
          el('td', {}, run.trigger.kind, run.trigger.reason ? `: ${run.trigger.reason}` : ''),
          el('td', {}, new Date(run.startedAt).toLocaleString()),
          el('td', { class: `outcome outcome-${run.outcome}` }, run.outcome),
          el(
            'td',
            {},
            run.published
              ? `version ${run.published.version}${run.published.alias ? ` (${run.published.alias})` : ''}`
              : '–',
          ),
          el('td', {}, run.message ?? ''),
        ),
      ),
  );
}

async function refreshModelDetails(client: MscrClient, model: string): Promise<void> {
  const generation = state.generation;
  const [status, runs, signals] = await Promise.allSettled([
    client.modelStatus(model),
    client.runs(model, { retries: 0 }),
    client.signals(model, { retries: 0 }),
  ]);
  if (generation !== state.generation) return;
  const runList = runs.status === 'fulfilled' ? runs.value : undefined;
  if (status.status === 'fulfilled') renderVersions(status.value, metricsByVersion(runList ?? []));
  else showError(byId('model-info'), `Cannot read the versions of ${model}`, status.reason);
  renderRuns(
    runList,
    runs.status === 'rejected' ? `runs unavailable: ${describeError(runs.reason)}` : undefined,
  );
  const signalsInfo = byId('signals-info');
  if (signals.status === 'fulfilled') {
    const s = signals.value;
    const accuracy =
      s.feedback.accuracy !== undefined
        ? `, accuracy on feedback ${percent(s.feedback.accuracy)}`
        : '';
    signalsInfo.textContent = `Since ${new Date(s.since).toLocaleString()}: ${s.predictions} predictions, ${s.feedback.count} feedback${accuracy}.`;
  } else {
    signalsInfo.textContent = '';
  }
}

async function selectModel(client: MscrClient, model: string): Promise<void> {
  state.generation++;
  const generation = state.generation;
  state.model = model;
  state.labels = [];
  byId('label-options').replaceChildren();
  byId('classify-result').replaceChildren();
  byId('detect-canvas').hidden = true;
  byId('forecast-result').replaceChildren();
  byId('feedback-result').replaceChildren();
  byId('chart').hidden = true;
  const info = byId('model-info');
  busy(info, `Reading ${model}…`);
  let metadata: ModelMetadata;
  try {
    metadata = await client.modelMetadata(model);
  } catch (error) {
    if (generation !== state.generation) return;
    showError(info, `Cannot read model ${model}`, error);
    for (const id of ['classify-section', 'forecast-section', 'feedback-section'])
      byId(id).hidden = true;
    await refreshModelDetails(client, model);
    return;
  }
  if (generation !== state.generation) return;
  const kind = kindOf(metadata);
  state.kind = kind;
  const input = metadata.inputs[0];
  const what =
    kind === 'image'
      ? `an image classifier (input ${input?.shape.slice(1, 3).join('×')} pixels)`
      : kind === 'detector'
        ? 'an object detector (it draws boxes on the image)'
        : kind === 'series'
          ? `a forecaster (a window of ${input?.shape[1]} days of ${input?.shape[2]} columns)`
          : `a model with input ${input?.name} [${input?.shape.join(', ')}]`;
  done(info, `${model} is ${what}, versions ${metadata.versions?.join(', ') || '–'}.`);
  const images = kind === 'image' || kind === 'detector';
  byId('classify-section').hidden = !images;
  byId('classify-heading').textContent =
    kind === 'detector' ? 'Find objects in an image' : 'Classify an image';
  byId('forecast-section').hidden = kind !== 'series';
  byId('feedback-section').hidden = kind === 'other';
  byId('retrain-section').hidden = false;
  byId('feedback-label-field').hidden = kind !== 'image';
  byId('feedback-actual-field').hidden = kind !== 'series';
  byId<HTMLInputElement>('feedback-label').required = kind === 'image';
  byId<HTMLInputElement>('feedback-actual').required = kind === 'series';
  byId('feedback-boxes-field').hidden = kind !== 'detector';
  await refreshModelDetails(client, model);
}

// ---------------------------------------------------------------- classify

let previewUrl: string | undefined;

function renderClassification(file: File, answer: ClassifyResponse): void {
  const scores = answer.predictions[0] ?? [];
  state.labels = scores.map((s) => s.label).sort();
  byId('label-options').replaceChildren(...state.labels.map((l) => el('option', { value: l })));
  const top = scores[0];
  const id = answer.predictionIds?.[0];
  const list = el('ol', { class: 'bars', 'aria-label': 'top classes' });
  for (const s of scores.slice(0, 5)) {
    const bar = el('span', { class: 'bar', 'aria-hidden': 'true' });
    bar.style.setProperty('--score', String(Math.max(0, Math.min(1, s.score))));
    list.append(
      el(
        'li',
        { 'data-label': s.label, 'data-score': String(s.score) },
        el('span', { class: 'bar-label' }, s.label),
        el('span', { class: 'bar-track', 'aria-hidden': 'true' }, bar),
        el('span', { class: 'bar-value' }, percent(s.score)),
      ),
    );
  }
  done(
    byId('classify-result'),
    el(
      'p',
      { class: 'verdict' },
      `${file.name}: `,
      top ? el('strong', { id: 'top-label' }, top.label) : 'no class',
      top ? ` (${percent(top.score)})` : '',
      ` by ${answer.model} version ${answer.version}`,
    ),
    list,
    id !== undefined && el('p', { class: 'hint' }, 'Prediction id ', el('code', {}, id)),
  );
  if (id !== undefined) {
    byId<HTMLInputElement>('feedback-id').value = id;
    byId<HTMLInputElement>('feedback-label').value = '';
  }
}

async function classifyFile(client: MscrClient, file: File): Promise<void> {
  const model = state.model;
  if (model === undefined) return;
  const generation = state.generation;
  const result = byId('classify-result');
  const preview = byId<HTMLImageElement>('image-preview');
  if (previewUrl !== undefined) URL.revokeObjectURL(previewUrl);
  previewUrl = undefined;
  preview.hidden = true;
  if (file.type.startsWith('image/')) {
    previewUrl = URL.createObjectURL(file);
    preview.src = previewUrl;
    preview.alt = `the chosen image, ${file.name}`;
    preview.hidden = false;
  }
  byId('detect-canvas').hidden = true;
  if (state.kind === 'detector') {
    await detectFile(client, model, file, generation);
    return;
  }
  busy(result, `Classifying ${file.name}…`);
  try {
    // Ask for every class, so the feedback form can offer them all; the page shows five.
    const answer = await client.classify(model, file, { top: 1000, ...versionOption() });
    if (generation !== state.generation) return;
    renderClassification(file, answer);
    void refreshModelDetails(client, model);
  } catch (error) {
    if (generation !== state.generation) return;
    showError(result, `Cannot classify ${file.name}`, error);
  }
}

// ---------------------------------------------------------------- detect

function renderDetections(file: File, answer: DetectResponse): void {
  const count = answer.detections.length;
  const list = el('ol', { class: 'detections', 'aria-label': 'objects found' });
  for (const item of detectionItems(answer)) {
    const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
    swatch.style.background = item.colour;
    list.append(el('li', {}, swatch, item.text));
  }
  done(
    byId('classify-result'),
    el(
      'p',
      { class: 'verdict' },
      `${file.name} (${answer.image.width}×${answer.image.height}): `,
      el('strong', { id: 'detect-count' }, `${count} object${count === 1 ? '' : 's'}`),
      ` found by ${answer.model} version ${answer.version}`,
    ),
    list,
    el('p', { class: 'hint' }, 'Prediction id ', el('code', {}, answer.id)),
  );
  byId<HTMLInputElement>('feedback-id').value = answer.id;
  byId<HTMLTextAreaElement>('feedback-boxes').value = boxesJson(answer);
}

async function detectFile(
  client: MscrClient,
  model: string,
  file: File,
  generation: number,
): Promise<void> {
  const result = byId('classify-result');
  busy(result, `Looking for objects in ${file.name}…`);
  try {
    const answer = await client.detect(model, file, versionOption());
    if (generation !== state.generation) return;
    const canvas = byId<HTMLCanvasElement>('detect-canvas');
    await drawDetections(canvas, file, answer);
    // The canvas shows the image with its boxes in place of the plain preview.
    byId('image-preview').hidden = true;
    canvas.hidden = false;
    renderDetections(file, answer);
    void refreshModelDetails(client, model);
  } catch (error) {
    if (generation !== state.generation) return;
    showError(result, `Cannot find objects in ${file.name}`, error);
  }
}

// ---------------------------------------------------------------- forecast

function renderForecast(file: File, series: SeriesForecast): void {
  const points = series.points.map((p) => ({
    x: p.index + 1,
    ...(p.actual !== undefined ? { actual: p.actual } : {}),
    ...(p.predicted !== undefined ? { predicted: p.predicted } : {}),
  }));
  const figure = byId('chart');
  figure.innerHTML = lineChartSvg(points, {
    title: `Actual and predicted ${series.target}, ${file.name}`,
    valueName: series.target,
    xName: `day (row of ${file.name}, oldest first)`,
  });
  const next = series.points.at(-1);
  const rows = series.points.map((p) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, String(p.index + 1)),
      el('td', {}, number(p.actual)),
      el('td', {}, number(p.predicted)),
    ),
  );
  figure.append(
    el(
      'figcaption',
      {},
      `Actual ${series.target} (blue) and the forecast of ${series.model} version ${series.version} (orange), one forecast per day from the ${series.window} days before it.`,
    ),
    el(
      'details',
      {},
      el('summary', {}, 'The numbers'),
      el(
        'table',
        { class: 'data' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', { scope: 'col' }, 'Day'),
            el('th', { scope: 'col' }, `Actual ${series.target}`),
            el('th', { scope: 'col' }, 'Predicted'),
          ),
        ),
        el('tbody', {}, ...rows),
      ),
    ),
  );
  figure.hidden = false;
  done(
    byId('forecast-result'),
    el(
      'p',
      { class: 'verdict', id: 'forecast-summary' },
      `${series.points.length} forecasts of ${series.target} by ${series.model} version ${series.version}. `,
      series.rmse !== undefined
        ? `RMSE ${number(series.rmse)}; the naive "tomorrow = today" forecast: ${number(series.naiveRmse)}. `
        : '',
      next?.actual === undefined && next?.predicted !== undefined
        ? `Next day: ${number(next.predicted)}.`
        : '',
    ),
    series.targetGuessed &&
      el(
        'p',
        { class: 'hint' },
        `No column of the CSV is named ${series.target}, so its last column was taken as the actual value.`,
      ),
  );
  const id = next?.predictionId;
  if (id !== undefined) byId<HTMLInputElement>('feedback-id').value = id;
}

async function forecastFile(client: MscrClient): Promise<void> {
  const model = state.model;
  const file = byId<HTMLInputElement>('csv-input').files?.[0];
  const result = byId('forecast-result');
  if (model === undefined) return;
  if (file === undefined) {
    showError(result, 'Nothing to forecast', new Error('choose a CSV file first'));
    return;
  }
  const generation = state.generation;
  const days = Number(byId<HTMLInputElement>('csv-days').value) || 120;
  const order = byId<HTMLSelectElement>('csv-order').value as 'oldest-first' | 'newest-first';
  const progress = byId<HTMLProgressElement>('forecast-progress');
  const button = byId<HTMLButtonElement>('forecast-button');
  progress.value = 0;
  progress.hidden = false;
  button.disabled = true;
  busy(result, `Forecasting ${file.name}…`);
  try {
    const text = await file.text();
    const series = await client.forecastSeries(model, text, {
      order,
      maxWindows: days,
      concurrency: 4,
      ...versionOption(),
      onProgress: (n, total) => {
        progress.max = total;
        progress.value = n;
      },
    });
    if (generation !== state.generation) return;
    renderForecast(file, series);
    void refreshModelDetails(client, model);
  } catch (error) {
    if (generation !== state.generation) return;
    byId('chart').hidden = true;
    showError(result, `Cannot forecast ${file.name}`, error);
  } finally {
    progress.hidden = true;
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- feedback and retraining

async function sendFeedback(client: MscrClient): Promise<void> {
  const model = state.model;
  if (model === undefined) return;
  const result = byId('feedback-result');
  const predictionId = byId<HTMLInputElement>('feedback-id').value.trim();
  const label = byId<HTMLInputElement>('feedback-label').value.trim();
  const actual = byId<HTMLInputElement>('feedback-actual').value.trim();
  busy(result, 'Sending feedback…');
  try {
    const token = byId<HTMLInputElement>('feedback-token').value.trim();
    const truth =
      state.kind === 'detector'
        ? { boxes: parseBoxesText(byId<HTMLTextAreaElement>('feedback-boxes').value) }
        : state.kind === 'image'
          ? { label }
          : { actual: Number(actual) };
    const answer = await client.feedback(
      model,
      {
        predictionId,
        ...truth,
      },
      token !== '' ? { token } : {},
    );
    const verdict =
      answer.correct === undefined
        ? ''
        : answer.correct
          ? ' The prediction was right.'
          : ' The prediction was wrong.';
    const held = answer.quarantined ? ' It waits for a review before retraining uses it.' : '';
    done(
      result,
      el('p', { class: 'ok' }, `Thank you: feedback ${answer.id} recorded.${verdict}${held}`),
    );
    void refreshModelDetails(client, model);
  } catch (error) {
    showError(result, 'Feedback not recorded', error);
  }
}

async function triggerRetraining(client: MscrClient): Promise<void> {
  const model = state.model;
  if (model === undefined) return;
  const result = byId('retrain-result');
  const token = byId<HTMLInputElement>('admin-token').value;
  const reason = byId<HTMLInputElement>('retrain-reason').value.trim();
  busy(result, `Starting a retraining run of ${model}…`);
  try {
    const answer = await client.retrain(model, {
      token,
      reason: reason || 'requested from the web page',
    });
    done(result, el('p', { class: 'ok' }, `Run ${answer.runId} started for ${answer.model}.`));
    await refreshModelDetails(client, model);
    // Its progress curve, from the run's Server-Sent Events, until its report.
    const list = byId('training-progress');
    try {
      await followTraining(
        client,
        `${answer.model}~${answer.runId}`,
        token,
        byId('training-chart'),
        list,
      );
    } catch (error) {
      showError(list, 'The progress stream stopped', error);
    }
    await refreshModelDetails(client, model);
  } catch (error) {
    showError(result, 'Retraining not started', error);
  }
}

async function showRollout(): Promise<void> {
  const model = state.model;
  const result = byId('rollout-result');
  const token = byId<HTMLInputElement>('admin-token').value.trim();
  if (model === undefined) return;
  if (token === '') {
    done(result, el('p', { class: 'error', role: 'alert' }, 'Enter the admin token first.'));
    return;
  }
  busy(result, `Reading the rollout of ${model}…`);
  try {
    const view = await fetchRollout(new URL('.', document.baseURI).href, model, token);
    const rows = rolloutRows(view);
    done(
      result,
      el('p', {}, rolloutSummary(view)),
      rows.length > 0 &&
        el(
          'table',
          { class: 'data' },
          el('caption', {}, "This replica's window of the current step"),
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ...['Figure', 'Stable', 'Candidate'].map((h) => el('th', { scope: 'col' }, h)),
            ),
          ),
          el(
            'tbody',
            {},
            ...rows.map((row) => el('tr', {}, ...row.map((cell) => el('td', {}, cell)))),
          ),
        ),
      view.decisions.length > 0 &&
        el(
          'ul',
          {},
          ...view.decisions
            .slice(0, 5)
            .map((d) =>
              el(
                'li',
                {},
                `${new Date(d.at).toLocaleString()} ${d.decision} by ${d.by}: ${d.reason}`,
              ),
            ),
        ),
    );
  } catch (error) {
    showError(result, 'Cannot read the rollout', error);
  }
}

// ---------------------------------------------------------------- wiring

function wire(client: MscrClient): void {
  byId<HTMLSelectElement>('model-select').addEventListener('change', (event) => {
    void selectModel(client, (event.target as HTMLSelectElement).value);
  });
  byId<HTMLSelectElement>('version-select').addEventListener('change', (event) => {
    state.version = (event.target as HTMLSelectElement).value || undefined;
  });
  byId('refresh-button').addEventListener('click', () => {
    if (state.model !== undefined) void refreshModelDetails(client, state.model);
    void loadServer(client).catch(() => undefined);
  });
  const imageInput = byId<HTMLInputElement>('image-input');
  imageInput.addEventListener('change', () => {
    const file = imageInput.files?.[0];
    if (file !== undefined) void classifyFile(client, file);
  });
  const zone = byId('drop-zone');
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    const file = event.dataTransfer?.files[0];
    if (file !== undefined) void classifyFile(client, file);
  });
  byId<HTMLFormElement>('forecast-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void forecastFile(client);
  });
  byId<HTMLFormElement>('feedback-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void sendFeedback(client);
  });
  byId<HTMLFormElement>('retrain-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void triggerRetraining(client);
  });
  byId('rollout-button').addEventListener('click', () => void showRollout());
}

async function start(): Promise<void> {
  // The page is served by the service it talks to: the API is at the page's own base URL.
  const client = createClient({ baseUrl: new URL('.', document.baseURI).href, timeoutMs: 30_000 });
  wire(client);
  try {
    await loadServer(client);
    await loadModels(client);
  } catch (error) {
    const pageError = byId('page-error');
    if (pageError.hidden) {
      pageError.textContent = `Cannot load the models: ${describeError(error)}`;
      pageError.hidden = false;
    }
  }
  document.body.dataset.loaded = 'true';
}

void start();
