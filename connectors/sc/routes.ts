/**
 * SC connector: the HTTP paths, built by the client SDK and matched by the server from one
 * definition, so the two never disagree.
 *
 *     GET  /v1/models                                              KServe V1: model names
 *     GET  /v1/models/{m}[/versions/{v}|/labels/{l}]               TF Serving status (+ KServe V1 name/ready)
 *     GET  /v1/models/{m}[/versions/{v}|/labels/{l}]/metadata      TF Serving model metadata (signature_def)
 *     POST /v1/models/{m}[/versions/{v}|/labels/{l}]:predict       TF Serving / KServe V1 predict
 *     POST /v1/models/{m}[/versions/{v}|/labels/{l}]:classify      TF Serving classify (tabular classifiers)
 *     POST /v1/models/{m}[/versions/{v}|/labels/{l}]:regress       TF Serving regress (tabular regressors)
 *     GET  /v2                                                     OIP server metadata
 *     GET  /v2/health/live, /v2/health/ready                       OIP health
 *     GET  /v2/models/{m}[/versions/{v}]                           OIP model metadata
 *     GET  /v2/models/{m}[/versions/{v}]/ready                     OIP model ready
 *     POST /v2/models/{m}[/versions/{v}]/infer                     OIP inference
 *     POST /mscr/models/{m}[/versions/{v}]/classify                image bytes -> labels with scores
 *     POST /mscr/models/{m}[/versions/{v}]/detect                  image bytes -> boxes with labels and scores
 *     POST /mscr/models/{m}[/versions/{v}]/forecast                CSV window -> forecast
 *     POST /mscr/models/{m}[/versions/{v}]/predict                 tabular rows (JSON or CSV) -> predictions
 *     POST /mscr/models/{m}/feedback                               the true label of a prediction (SR)
 *     GET  /mscr/models/{m}/signals                                what observers read (SR)
 *     POST /mscr/models/{m}/retrain                                start a retraining run (admin token)
 *     GET  /mscr/models/{m}/runs                                   retraining runs, newest first
 *     POST /mscr/models/{m}/evaluate                               score a version on a data URI (admin token)
 *     POST /mscr/train                                             start a training run (admin token)
 *     GET  /mscr/train/{id}                                        its record, or its progress as SSE (admin token)
 *
 * A V2 or mscr version segment that is not a number names an alias (`/versions/stable`): the
 * spec leaves version strings to the server. V1 keeps TF Serving's `/labels/{label}`.
 * Version `0` is a well-formed number no version ever has: `not_found`, as in TF Serving.
 *
 * The V1 `:predict` suffix does not fit Express's path syntax (`:` starts a parameter), which
 * is one reason the server matches paths with `matchRoute` instead of route patterns.
 */
import { MscrError } from '../errors.ts';
import { isVersionNumber, validateModelName } from '../ms/manifest.ts';
import { validateAliasName } from '../store/model-store.ts';

/** Which version of a model: a number, or an alias (TF Serving "label"). Absent: the default. */
export type VersionSelector = { version: number } | { label: string };

type ModelRoute = { model: string; selector?: VersionSelector };

export type Route =
  | { api: 'v1'; kind: 'models'; method: 'GET' }
  | ({ api: 'v1'; kind: 'status'; method: 'GET' } & ModelRoute)
  | ({ api: 'v1'; kind: 'metadata'; method: 'GET' } & ModelRoute)
  | ({ api: 'v1'; kind: 'predict' | 'tf-classify' | 'tf-regress'; method: 'POST' } & ModelRoute)
  | { api: 'v2'; kind: 'server-metadata' | 'live' | 'ready'; method: 'GET' }
  | ({ api: 'v2'; kind: 'model-metadata' | 'model-ready'; method: 'GET' } & ModelRoute)
  | ({ api: 'v2'; kind: 'infer'; method: 'POST' } & ModelRoute)
  | ({
      api: 'mscr';
      kind: 'classify' | 'detect' | 'forecast' | 'tabular';
      method: 'POST';
    } & ModelRoute)
  | { api: 'mscr'; kind: 'feedback' | 'retrain' | 'evaluate'; method: 'POST'; model: string }
  | { api: 'mscr'; kind: 'train'; method: 'POST' }
  | { api: 'mscr'; kind: 'train-status'; method: 'GET'; id: string }
  | { api: 'mscr'; kind: 'signals' | 'runs'; method: 'GET'; model: string };

export type RouteKind = Route['kind'];

export const V1_MODELS_PATH = '/v1/models';
export const V2_SERVER_METADATA_PATH = '/v2';
export const V2_LIVE_PATH = '/v2/health/live';
export const V2_READY_PATH = '/v2/health/ready';
export const V2_MODELS_PATH = '/v2/models';
export const MSCR_MODELS_PATH = '/mscr/models';

function segment(text: string): string {
  return encodeURIComponent(text);
}

function checkSelector(selector: VersionSelector | undefined): void {
  if (selector === undefined) return;
  if ('version' in selector) {
    if (!isVersionNumber(selector.version)) {
      throw new MscrError(
        'bad_request',
        `invalid version ${String(selector.version)}: versions are positive integers`,
      );
    }
  } else {
    validateAliasName(selector.label);
  }
}

function modelBase(prefix: string, model: string): string {
  return `${prefix}/${segment(validateModelName(model))}`;
}

/** `/v1/models/{m}[/versions/{v}|/labels/{l}]`: TF Serving's model status. */
export function v1ModelPath(model: string, selector?: VersionSelector): string {
  checkSelector(selector);
  const base = modelBase(V1_MODELS_PATH, model);
  if (selector === undefined) return base;
  return 'version' in selector
    ? `${base}/versions/${selector.version}`
    : `${base}/labels/${segment(selector.label)}`;
}

/** `/v1/models/{m}[/versions/{v}|/labels/{l}]:predict`. */
export function v1PredictPath(model: string, selector?: VersionSelector): string {
  return `${v1ModelPath(model, selector)}:predict`;
}

/** `/v1/models/{m}[/versions/{v}|/labels/{l}]:classify` (TF Serving's Classify API). */
export function v1ClassifyPath(model: string, selector?: VersionSelector): string {
  return `${v1ModelPath(model, selector)}:classify`;
}

/** `/v1/models/{m}[/versions/{v}|/labels/{l}]:regress` (TF Serving's Regress API). */
export function v1RegressPath(model: string, selector?: VersionSelector): string {
  return `${v1ModelPath(model, selector)}:regress`;
}

/** `/v1/models/{m}[/versions/{v}|/labels/{l}]/metadata`: TF Serving's model metadata. */
export function v1MetadataPath(model: string, selector?: VersionSelector): string {
  return `${v1ModelPath(model, selector)}/metadata`;
}

function versionedPath(prefix: string, model: string, selector?: VersionSelector): string {
  checkSelector(selector);
  const base = modelBase(prefix, model);
  if (selector === undefined) return base;
  return `${base}/versions/${'version' in selector ? selector.version : segment(selector.label)}`;
}

/** `/v2/models/{m}[/versions/{v}]`: model metadata. */
export function v2ModelPath(model: string, selector?: VersionSelector): string {
  return versionedPath(V2_MODELS_PATH, model, selector);
}

/** `/v2/models/{m}[/versions/{v}]/ready`. */
export function v2ModelReadyPath(model: string, selector?: VersionSelector): string {
  return `${v2ModelPath(model, selector)}/ready`;
}

/** `/v2/models/{m}[/versions/{v}]/infer`. */
export function v2InferPath(model: string, selector?: VersionSelector): string {
  return `${v2ModelPath(model, selector)}/infer`;
}

/** `/mscr/models/{m}[/versions/{v}]/classify`: post image bytes. */
export function mscrClassifyPath(model: string, selector?: VersionSelector): string {
  return `${versionedPath(MSCR_MODELS_PATH, model, selector)}/classify`;
}

/** `/mscr/models/{m}[/versions/{v}]/detect`: post image bytes, get boxes. */
export function mscrDetectPath(model: string, selector?: VersionSelector): string {
  return `${versionedPath(MSCR_MODELS_PATH, model, selector)}/detect`;
}

/** `/mscr/models/{m}[/versions/{v}]/forecast`: post a CSV window. */
export function mscrForecastPath(model: string, selector?: VersionSelector): string {
  return `${versionedPath(MSCR_MODELS_PATH, model, selector)}/forecast`;
}

/** `/mscr/models/{m}[/versions/{v}]/predict`: post tabular rows (route kind `tabular`). */
export function mscrPredictPath(model: string, selector?: VersionSelector): string {
  return `${versionedPath(MSCR_MODELS_PATH, model, selector)}/predict`;
}

/** `/mscr/models/{m}/feedback`: post the true label or value of a prediction. */
export function mscrFeedbackPath(model: string): string {
  return `${modelBase(MSCR_MODELS_PATH, model)}/feedback`;
}

/** `/mscr/models/{m}/signals`: the model's production signals (`ModelSignals`). */
export function mscrSignalsPath(model: string): string {
  return `${modelBase(MSCR_MODELS_PATH, model)}/signals`;
}

/** `/mscr/models/{m}/retrain`: start a retraining run. */
export function mscrRetrainPath(model: string): string {
  return `${modelBase(MSCR_MODELS_PATH, model)}/retrain`;
}

/** `/mscr/models/{m}/runs`: the model's retraining runs. */
export function mscrRunsPath(model: string): string {
  return `${modelBase(MSCR_MODELS_PATH, model)}/runs`;
}

/** `/mscr/models/{m}/evaluate`: score a published version on data. */
export function mscrEvaluatePath(model: string): string {
  return `${modelBase(MSCR_MODELS_PATH, model)}/evaluate`;
}

/** `/mscr/train`: start a training run. */
export const MSCR_TRAIN_PATH = '/mscr/train';

/** `/mscr/train/{id}`: a training run's record or progress. */
export function mscrTrainRunPath(id: string): string {
  return `${MSCR_TRAIN_PATH}/${encodeURIComponent(id)}`;
}

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new MscrError(
      'bad_request',
      `malformed percent-encoding in path segment ${JSON.stringify(raw.slice(0, 64))}`,
    );
  }
}

/** `/versions/<text>`: a number is a version, anything else an alias (V2 and mscr paths). */
function selectorOfVersionSegment(text: string): VersionSelector {
  if (/^0+$/.test(text)) throw new MscrError('not_found', 'no version 0: versions start at 1');
  if (/^[0-9]+$/.test(text)) {
    if (!/^[1-9][0-9]{0,15}$/.test(text) || !isVersionNumber(Number(text))) {
      throw new MscrError(
        'bad_request',
        `invalid version ${JSON.stringify(text.slice(0, 64))}: versions are positive integers`,
      );
    }
    return { version: Number(text) };
  }
  return { label: validateAliasName(text) };
}

function numericVersion(text: string): VersionSelector {
  const selector = /^[0-9]+$/.test(text) ? selectorOfVersionSegment(text) : undefined;
  if (selector === undefined) {
    throw new MscrError(
      'bad_request',
      `invalid version ${JSON.stringify(text.slice(0, 64))}: versions are positive integers (use /labels/${'{label}'} for an alias)`,
    );
  }
  return selector;
}

const V1_VERBS = ['predict', 'classify', 'regress'];
const POST_TAILS = [
  'infer',
  'classify',
  'detect',
  'forecast',
  'predict',
  'feedback',
  'retrain',
  'evaluate',
];

/**
 * The method a path of a known shape takes, judged from its shape alone (the verb or last
 * segment), without validating model names or versions: so that a wrong method is a 405
 * even when a segment is invalid too. Undefined for paths of no known shape.
 */
export function methodOfPath(pathname: string): 'GET' | 'POST' | undefined {
  const trimmed = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  const raw = trimmed.split('/').slice(1);
  const [api, second] = raw;
  const last = raw.at(-1) ?? '';
  if (api === 'v1' && second === 'models') {
    const colon = last.lastIndexOf(':');
    if (raw.length > 2 && colon >= 0) {
      return V1_VERBS.includes(last.slice(colon + 1)) ? 'POST' : undefined;
    }
    return raw.length <= 6 ? 'GET' : undefined;
  }
  if ((api === 'v2' || api === 'mscr') && second === 'models' && raw.length >= 3) {
    return POST_TAILS.includes(last) && raw.length >= 4 ? 'POST' : 'GET';
  }
  if (api === 'v2') return 'GET';
  if (api === 'mscr' && second === 'train') return raw.length === 2 ? 'POST' : 'GET';
  return undefined;
}

/**
 * The route of a request path (no query string), or undefined when no route has this path.
 * A path of a known shape with a bad part (an invalid model name, version `abc` under
 * `/versions/` of V1, broken percent-encoding) is a `bad_request` naming that part. A
 * trailing slash is ignored. The caller compares `route.method` with the request's (405).
 */
export function matchRoute(pathname: string): Route | undefined {
  const trimmed = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  if (!trimmed.startsWith('/')) return undefined;
  const raw = trimmed.slice(1).split('/');
  const [api, second] = raw;

  if (api === 'v1' && second === 'models') {
    if (raw.length === 2) return { api: 'v1', kind: 'models', method: 'GET' };
    // The verb (`:predict`) hangs on the last segment; split before decoding, so `%3A` is no verb.
    const last = raw[raw.length - 1] as string;
    const colon = last.lastIndexOf(':');
    const verb = colon >= 0 ? last.slice(colon + 1) : undefined;
    const parts = [...raw.slice(2, -1), colon >= 0 ? last.slice(0, colon) : last].map(
      decodeSegment,
    );
    if (verb !== undefined && !V1_VERBS.includes(verb)) return undefined;
    // `/metadata` ends a GET path only (TF Serving has no verb on it).
    const metadata = verb === undefined && parts.length % 2 === 0 && parts.at(-1) === 'metadata';
    if (metadata) parts.pop();
    const [model, kind, value] = parts;
    if (model === undefined || !(parts.length === 1 || parts.length === 3)) return undefined;
    let selector: VersionSelector | undefined;
    if (parts.length === 3) {
      if (kind === 'versions') selector = numericVersion(value as string);
      else if (kind === 'labels') selector = { label: validateAliasName(value as string) };
      else return undefined;
    }
    const ref = { model: validateModelName(model), ...(selector ? { selector } : {}) };
    if (verb === 'predict') return { api: 'v1', kind: 'predict', method: 'POST', ...ref };
    if (verb === 'classify') return { api: 'v1', kind: 'tf-classify', method: 'POST', ...ref };
    if (verb === 'regress') return { api: 'v1', kind: 'tf-regress', method: 'POST', ...ref };
    return metadata
      ? { api: 'v1', kind: 'metadata', method: 'GET', ...ref }
      : { api: 'v1', kind: 'status', method: 'GET', ...ref };
  }

  if (api === 'v2') {
    if (raw.length === 1) return { api: 'v2', kind: 'server-metadata', method: 'GET' };
    if (raw.length === 3 && second === 'health') {
      if (raw[2] === 'live') return { api: 'v2', kind: 'live', method: 'GET' };
      if (raw[2] === 'ready') return { api: 'v2', kind: 'ready', method: 'GET' };
      return undefined;
    }
    if (second !== 'models') return undefined;
    const parsed = modelAndTail(raw.slice(2).map(decodeSegment));
    if (parsed === undefined) return undefined;
    const { ref, tail } = parsed;
    if (tail === undefined) return { api: 'v2', kind: 'model-metadata', method: 'GET', ...ref };
    if (tail === 'ready') return { api: 'v2', kind: 'model-ready', method: 'GET', ...ref };
    if (tail === 'infer') return { api: 'v2', kind: 'infer', method: 'POST', ...ref };
    return undefined;
  }

  if (api === 'mscr' && second === 'models') {
    const parsed = modelAndTail(raw.slice(2).map(decodeSegment));
    if (parsed === undefined) return undefined;
    const { ref, tail } = parsed;
    if (tail === 'classify') return { api: 'mscr', kind: 'classify', method: 'POST', ...ref };
    if (tail === 'detect') return { api: 'mscr', kind: 'detect', method: 'POST', ...ref };
    if (tail === 'forecast') return { api: 'mscr', kind: 'forecast', method: 'POST', ...ref };
    if (tail === 'predict') return { api: 'mscr', kind: 'tabular', method: 'POST', ...ref };
    // Feedback, signals and retraining are about a model, not one of its versions.
    if (ref.selector !== undefined) return undefined;
    const { model } = ref;
    if (tail === 'feedback') return { api: 'mscr', kind: 'feedback', method: 'POST', model };
    if (tail === 'retrain') return { api: 'mscr', kind: 'retrain', method: 'POST', model };
    if (tail === 'signals') return { api: 'mscr', kind: 'signals', method: 'GET', model };
    if (tail === 'runs') return { api: 'mscr', kind: 'runs', method: 'GET', model };
    if (tail === 'evaluate') return { api: 'mscr', kind: 'evaluate', method: 'POST', model };
    return undefined;
  }
  if (api === 'mscr' && second === 'train') {
    if (raw.length === 2) return { api: 'mscr', kind: 'train', method: 'POST' };
    if (raw.length !== 3 || raw[2] === '') return undefined;
    return {
      api: 'mscr',
      kind: 'train-status',
      method: 'GET',
      id: decodeSegment(raw[2] as string),
    };
  }
  return undefined;
}

/** `{m}[/versions/{v}][/{tail}]` -> model, selector, tail; undefined when the shape is wrong. */
function modelAndTail(parts: string[]): { ref: ModelRoute; tail: string | undefined } | undefined {
  const [model, ...rest] = parts;
  if (model === undefined || model === '') return undefined;
  let selector: VersionSelector | undefined;
  if (rest[0] === 'versions') {
    if (rest.length < 2) return undefined;
    selector = selectorOfVersionSegment(rest[1] as string);
    rest.splice(0, 2);
  }
  if (rest.length > 1) return undefined;
  const ref: ModelRoute = { model: validateModelName(model), ...(selector ? { selector } : {}) };
  return { ref, tail: rest[0] };
}
