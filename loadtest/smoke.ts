/**
 * smoke: every endpoint once, V1 and V2, image and CSV, for every model the service serves,
 * with checks on status and body. One VU, one iteration; fails on any failed request or check.
 *
 *   k6 run -e BASE_URL=http://localhost:8080 loadtest/smoke.ts
 */
import http from 'k6/http';
import { check, group } from 'k6';
import type { Options } from 'k6/options';
import { common } from './lib/config.ts';
import { convenience, discover, v1Predict, v2Infer, waitReady, type Target } from './lib/api.ts';
import {
  baseThresholds,
  summaryOutputs,
  summaryTrendStats,
  type SummaryData,
} from './lib/summary.ts';

export const options: Options = {
  scenarios: {
    smoke: {
      executor: 'per-vu-iterations',
      vus: 1,
      iterations: 1,
      // Short, so k6's dashboard keeps 10 ms periods: enough for an HTML report of this run.
      maxDuration: '20s',
      gracefulStop: '5s',
    },
  },
  thresholds: baseThresholds(['v1', 'v2', 'mscr']),
  summaryTrendStats,
};

export function setup(): { targets: Target[] } {
  waitReady();
  return { targets: discover() };
}

function get(path: string, protocol: string, name: string) {
  return http.get(`${common.baseUrl}${path}`, {
    tags: { traffic: 'load', protocol, endpoint: name, name },
    timeout: common.timeout,
  });
}

function bodyOf(response: { json: () => unknown }): Record<string, unknown> {
  try {
    return (response.json() ?? {}) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export default function smoke(data: { targets: Target[] }): void {
  group('server', () => {
    const server = get('/v2', 'v2', 'GET /v2');
    check(server, {
      'server metadata answers 200': (r) => r.status === 200,
      'server metadata names mscr': (r) => bodyOf(r).name === 'mscr',
    });
    check(get('/v2/health/live', 'v2', 'GET /v2/health/live'), {
      'live answers 200': (r) => r.status === 200,
    });
    check(get('/v2/health/ready', 'v2', 'GET /v2/health/ready'), {
      'ready answers 200': (r) => r.status === 200,
    });
    const models = get('/v1/models', 'v1', 'GET /v1/models');
    check(models, {
      'the model list names every model': (r) =>
        JSON.stringify(bodyOf(r).models) === JSON.stringify(data.targets.map((t) => t.model)),
    });
    check(get('/metrics', 'mscr', 'GET /metrics'), {
      'metrics answer 200': (r) => r.status === 200,
      'metrics count requests': (r) => String(r.body).includes('mscr_requests_total'),
    });
    const unknown = http.get(`${common.baseUrl}/v2/models/no-such-model`, {
      tags: { traffic: 'load', protocol: 'v2', endpoint: 'unknown model', name: 'unknown model' },
      responseCallback: http.expectedStatuses(404),
    });
    check(unknown, {
      'an unknown model answers 404 with an error message': (r) =>
        r.status === 404 && typeof bodyOf(r).error === 'string',
    });
  });

  for (const target of data.targets) {
    const m = encodeURIComponent(target.model);
    group(`model ${target.model} (${target.kind})`, () => {
      const status = get(`/v1/models/${m}`, 'v1', 'GET /v1/models/{m}');
      check(status, {
        'V1 status lists an AVAILABLE version': (r) =>
          JSON.stringify(bodyOf(r).model_version_status ?? []).includes('"AVAILABLE"'),
      });
      check(
        get(`/v1/models/${m}/versions/${target.version}`, 'v1', 'GET /v1/models/{m}/versions/{v}'),
        {
          'V1 version status answers 200': (r) => r.status === 200,
        },
      );
      check(get(`/v2/models/${m}`, 'v2', 'GET /v2/models/{m}'), {
        'V2 metadata lists inputs and outputs': (r) =>
          Array.isArray(bodyOf(r).inputs) && Array.isArray(bodyOf(r).outputs),
      });
      check(get(`/v2/models/${m}/ready`, 'v2', 'GET /v2/models/{m}/ready'), {
        'V2 model ready answers 200': (r) => r.status === 200,
      });
      check(
        get(
          `/v2/models/${m}/versions/${target.version}/ready`,
          'v2',
          'GET /v2/models/{m}/versions/{v}/ready',
        ),
        {
          'V2 version ready answers 200': (r) => r.status === 200,
        },
      );
      const latest = v2Infer(target);
      const pinned = v2Infer(target, {}, target.version);
      check(null, {
        'V2 infer by version answers from that version': () => pinned.version === target.version,
        'V2 infer answers from the served version': () => latest.version === target.version,
      });
      v1Predict(target);
      v1Predict(target, {}, true);
      if (target.kind !== 'other') convenience(target);
    });
  }
}

export function handleSummary(data: SummaryData) {
  const setup = data.setup_data as { targets?: Target[] } | undefined;
  return summaryOutputs('smoke', data, {
    target: setup?.targets?.map((t) => `${t.model} v${t.version} (${t.kind})`).join(', '),
  });
}
