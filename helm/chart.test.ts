/**
 * The Helm chart, tested with the real helm binary (pinned in scripts/tools.json) and the
 * Kubernetes JSON schemas of kubernetes-validate (pinned in scripts/setup-validators.mjs),
 * both offline: `helm lint` (plain and --strict) and `helm template` for every
 * ci/*-values.yaml, every rendered object validated strictly (unknown fields rejected)
 * against Kubernetes 1.34 and 1.37, the two CRD objects (ServiceMonitor, HTTPRoute) against
 * the prometheus-operator and Gateway API schemas of @kubernetes-models, then what each
 * switch must produce.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMap, isScalar, isSeq, parseAllDocuments, parseDocument } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { createBrokerMetrics } from '../service/brokers/metrics.ts';
import { createMetrics } from '../service/observability/metrics.ts';

const root = resolve(import.meta.dirname, '..');
const chart = join(root, 'helm', 'mscr');
const helmBin = join(root, '.tools', 'bin', 'helm');
const validatorBin = join(root, '.tools', 'bin', 'kubernetes-validate');
const ciFiles = readdirSync(join(chart, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .sort();
/** The oldest and newest Kubernetes versions whose schemas kubernetes-validate ships. */
const K8S_VERSIONS = ['1.34.0', '1.37.0'];
const RELEASE = 'demo';
const NAMESPACE = 'ml';

// A loose shape for rendered objects: tests index into them freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type K8sObject = Record<string, any>;

let work: string;
before(() => {
  for (const [bin, setup] of [
    [helmBin, 'node scripts/setup-tools.mjs helm'],
    [validatorBin, 'node scripts/setup-validators.mjs'],
  ] as const) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`${setup}\` first`);
  }
  work = mkdtempSync(join(tmpdir(), 'mscr-chart-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

function run(command: string, args: string[]) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function helm(args: string[]) {
  return run(helmBin, args);
}

/** `--set` pairs and values files as helm flags. */
function valueFlags(files: string[], sets: string[]): string[] {
  return [
    ...files.flatMap((f) => ['-f', join(chart, 'ci', f)]),
    ...sets.flatMap((s) => ['--set', s]),
  ];
}

/** `helm template` output as text; throws with helm's message when rendering fails. */
function renderText(files: string[] = [], sets: string[] = []): string {
  const result = helm([
    'template',
    RELEASE,
    chart,
    '--namespace',
    NAMESPACE,
    ...valueFlags(files, sets),
  ]);
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout;
}

function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      assert.deepEqual(doc.errors, [], 'rendered YAML parses');
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

function render(files: string[] = [], sets: string[] = []): K8sObject[] {
  return parseObjects(renderText(files, sets));
}

/** helm's error text for values that must fail. */
function renderError(sets: string[]): string {
  const result = helm(['template', RELEASE, chart, ...valueFlags([], sets)]);
  assert.notEqual(result.status, 0, `helm template ${sets.join(' ')} should fail`);
  return result.stderr;
}

function find(objects: K8sObject[], kind: string, name?: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

function get(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = find(objects, kind, name);
  assert.ok(
    found,
    `${kind} ${name} rendered (have: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')})`,
  );
  return found;
}

function container(workload: K8sObject): K8sObject {
  const pod =
    workload.kind === 'CronJob' ? workload.spec.jobTemplate.spec.template : workload.spec.template;
  return pod.spec.containers[0];
}

function podSpec(workload: K8sObject): K8sObject {
  return workload.kind === 'CronJob'
    ? workload.spec.jobTemplate.spec.template.spec
    : workload.spec.template.spec;
}

function env(c: K8sObject): Map<string, K8sObject> {
  return new Map((c.env ?? []).map((e: K8sObject) => [e.name, e]));
}

const FULL = `${RELEASE}-mscr`;
const CRD_VALIDATORS: Record<string, (o: K8sObject) => void> = {
  'monitoring.coreos.com/v1 ServiceMonitor': (o) =>
    new ServiceMonitor(o as ConstructorParameters<typeof ServiceMonitor>[0]).validate(),
  'gateway.networking.k8s.io/v1 HTTPRoute': (o) =>
    new HTTPRoute(o as ConstructorParameters<typeof HTTPRoute>[0]).validate(),
};

describe('helm lint and schema validation of every ci values file', () => {
  test('helm lint passes on the defaults, plain and --strict', () => {
    for (const flags of [[], ['--strict']]) {
      const result = helm(['lint', chart, ...flags]);
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(result.stdout, /\[(WARNING|ERROR)\]/);
    }
  });

  test('broker URLs come from Secrets, the MQTT client id is the pod name', () => {
    const deployment = parseObjects(renderText(['brokers-values.yaml'])).find(
      (o) => o.kind === 'Deployment',
    ) as { spec: { template: { spec: { containers: { env: Record<string, unknown>[] }[] } } } };
    const env = deployment.spec.template.spec.containers[0]?.env ?? [];
    const byName = (name: string) => env.find((e) => e.name === name);
    assert.deepEqual(byName('MSCR_AMQP_URL')?.valueFrom, {
      secretKeyRef: { name: 'mscr-rabbitmq', key: 'url' },
    });
    assert.equal(byName('MSCR_AMQP_PREFETCH')?.value, '16');
    assert.deepEqual(byName('MSCR_MQTT_URL')?.valueFrom, {
      secretKeyRef: { name: 'mscr-mosquitto', key: 'url' },
    });
    assert.deepEqual(byName('MSCR_MQTT_CLIENT_ID')?.valueFrom, {
      fieldRef: { fieldPath: 'metadata.name' },
    });
    assert.equal(byName('MSCR_MQTT_INFLIGHT')?.value, '32');
    const plain = parseObjects(renderText([])).find((o) => o.kind === 'Deployment');
    assert.doesNotMatch(JSON.stringify(plain), /MSCR_AMQP_URL|MSCR_MQTT_URL/);
  });

  test('the ci values files cover the matrix', () => {
    assert.deepEqual(ciFiles, [
      'autoscaling-values.yaml',
      'brokers-values.yaml',
      'default-values.yaml',
      'gcs-values.yaml',
      'gpu-values.yaml',
      'retraining-off-values.yaml',
      's3-values.yaml',
    ]);
  });

  for (const file of ciFiles) {
    test(`${file}: helm lint --strict, helm template, every object valid for Kubernetes ${K8S_VERSIONS.join(' and ')}`, () => {
      for (const flags of [[], ['--strict']]) {
        const lint = helm(['lint', chart, ...flags, ...valueFlags([file], [])]);
        assert.equal(lint.status, 0, lint.stdout + lint.stderr);
        assert.doesNotMatch(lint.stdout, /\[(WARNING|ERROR)\]/);
      }
      const text = renderText([file]);
      const objects = parseObjects(text);
      const rendered = join(work, file.replace('-values.yaml', '.rendered.yaml'));
      writeFileSync(rendered, text);
      const core = objects.filter((o) => !CRD_VALIDATORS[`${o.apiVersion} ${o.kind}`]);
      const crds = objects.filter((o) => CRD_VALIDATORS[`${o.apiVersion} ${o.kind}`]);
      for (const version of K8S_VERSIONS) {
        const result = run(validatorBin, ['--strict', '-k', version, rendered]);
        const lines = result.stdout.split('\n').filter((l) => l.trim() !== '');
        const errors = lines.filter((l) => !l.startsWith('INFO') && !l.startsWith('WARN'));
        assert.deepEqual(
          errors,
          [],
          `kubernetes-validate ${version}:\n${result.stdout}${result.stderr}`,
        );
        assert.equal(result.status, 0, result.stdout + result.stderr);
        const passed = lines.filter(
          (l) => l.startsWith('INFO') && l.includes(' passed for resource '),
        );
        assert.equal(passed.length, core.length, `every core object validated:\n${result.stdout}`);
        // Only the CRD objects lack a Kubernetes schema; they are checked just below.
        const missing = lines.filter((l) => l.startsWith('WARN'));
        assert.equal(missing.length, crds.length, result.stdout);
        for (const line of missing)
          assert.match(line, /Couldn't find schema for kind (ServiceMonitor|HTTPRoute)/);
      }
      for (const o of crds) CRD_VALIDATORS[`${o.apiVersion} ${o.kind}`]!(o);
      for (const o of objects) {
        assert.ok(
          o.metadata.name.length <= 63,
          `${o.kind} name ${o.metadata.name} fits 63 characters`,
        );
        assert.equal(o.metadata.labels['app.kubernetes.io/instance'], RELEASE);
      }
    });
  }

  test('the validator does reject an invalid object (the checks above can fail)', () => {
    const bad = join(work, 'bad.yaml');
    const text = renderText().replace(
      'containerPort: 8080',
      'containerPort: 8080\n              hostPorts: 1',
    );
    writeFileSync(bad, text);
    const result = run(validatorBin, ['--strict', '-k', '1.37.0', bad]);
    assert.notEqual(result.status, 0);
    assert.match(result.stdout, /ERROR .*deployment\/demo-mscr.*'hostPorts' was unexpected/);
  });
});

describe('values.schema.json', () => {
  test('rejects a wrong type with the path and the expected type', () => {
    assert.match(
      renderError(['config.port=http']),
      /at '\/config\/port': got string, want integer/,
    );
    assert.match(
      renderError(['autoscaling.enabled=yes']),
      /at '\/autoscaling\/enabled': got string, want boolean/,
    );
  });

  test('rejects unknown keys at the top and nested', () => {
    assert.match(renderError(['replicas=3']), /additional properties 'replicas' not allowed/);
    assert.match(
      renderError(['retraining.schedul=@daily']),
      /at '\/retraining': additional properties 'schedul' not allowed/,
    );
  });

  test('rejects values out of range or outside an enum', () => {
    assert.match(
      renderError(['config.logLevel=verbose']),
      /at '\/config\/logLevel': value must be one of 'debug', 'info', 'warn', 'error', 'silent'/,
    );
    assert.match(renderError(['retraining.concurrencyPolicy=Sometimes']), /concurrencyPolicy/);
    assert.match(
      renderError(['autoscaling.minReplicas=0']),
      /at '\/autoscaling\/minReplicas': minimum: got 0, want 1/,
    );
    assert.match(renderError(['store.uri=ftp://x/models']), /at '\/store\/uri'/);
    assert.match(renderError(['config.policy=newest']), /at '\/config\/policy'/);
  });

  test('cross-value checks fail with a message that says what to change', () => {
    assert.match(
      renderError(['terminationGracePeriodSeconds=20']),
      /terminationGracePeriodSeconds \(20\) must exceed preStopSleepSeconds \+ config.drainTimeout \(30\)/,
    );
    assert.match(
      renderError(['store.uri=file:///models']),
      /store.uri file:\/\/\/models must lie below store.persistence.mountPath \/var\/lib\/mscr/,
    );
    assert.match(
      renderError(['store.uri=s3://bucket/models']),
      /retraining.data file:\/\/\/var\/lib\/mscr\/data\/cifar10-cnn is a file:\/\/ URI but the store is s3:\/\/bucket\/models/,
    );
    assert.match(
      renderError(['autoscaling.enabled=true', 'autoscaling.targetCPUUtilizationPercentage=null']),
      /autoscaling needs at least one target/,
    );
    assert.match(
      renderError(['autoscaling.enabled=true', 'autoscaling.minReplicas=12']),
      /HPA demo-mscr: minReplicas \(12\) is larger than maxReplicas \(10\)/,
    );
  });

  test('every value in values.yaml has a comment and a schema entry, and the schema nothing more', () => {
    const doc = parseDocument(readFileSync(join(chart, 'values.yaml'), 'utf8'));
    assert.deepEqual(doc.errors, []);
    const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8')) as K8sObject;
    const uncommented: string[] = [];
    const unknown: string[] = [];
    const resolveRef = (s: K8sObject | undefined): K8sObject | undefined =>
      s?.$ref ? schema.definitions[String(s.$ref).replace('#/definitions/', '')] : s;
    const walk = (
      node: YamlNode | null,
      path: string,
      s: K8sObject | undefined,
      comment: boolean,
    ) => {
      if (isMap(node)) {
        node.items.forEach((pair, i) => {
          const key = isScalar(pair.key) ? String(pair.key.value) : '?';
          const keyNode = pair.key as YamlNode;
          const commented =
            Boolean(keyNode.commentBefore) || (i === 0 && (comment || Boolean(node.commentBefore)));
          const childPath = path ? `${path}.${key}` : key;
          if (!commented) uncommented.push(childPath);
          const props = resolveRef(s)?.properties as K8sObject | undefined;
          const child = props ? resolveRef(props[key]) : undefined;
          // Kubernetes-shaped values (no `properties`) are checked by the API schemas instead.
          if (props && !child && resolveRef(s)?.additionalProperties === false)
            unknown.push(childPath);
          walk(pair.value as YamlNode, childPath, child, false);
        });
      } else if (isSeq(node)) {
        // A comment before the first item is the sequence's own commentBefore.
        node.items.forEach((item, i) =>
          walk(
            item as YamlNode,
            `${path}[${i}]`,
            resolveRef(s)?.items,
            Boolean((item as YamlNode).commentBefore) || (i === 0 && Boolean(node.commentBefore)),
          ),
        );
      }
    };
    walk(doc.contents as YamlNode, '', schema, Boolean(doc.commentBefore));
    assert.deepEqual(uncommented, [], 'values without a comment');
    assert.deepEqual(unknown, [], 'values the schema does not declare');
    const values = doc.toJS() as K8sObject;
    const missing = Object.keys(schema.properties).filter((k) => k !== 'global' && !(k in values));
    assert.deepEqual(missing, [], 'schema properties without a default in values.yaml');
  });
});

describe('the default release', () => {
  let objects: K8sObject[];
  before(() => {
    objects = render();
  });

  test('a Deployment with V2 health probes, a startup probe, resources and replicas', () => {
    const deployment = get(objects, 'Deployment', FULL);
    assert.equal(deployment.spec.replicas, 2);
    const c = container(deployment);
    assert.equal(c.image, 'mscr:0.1.0');
    assert.deepEqual(c.args, ['serve']);
    assert.equal(c.livenessProbe.httpGet.path, '/v2/health/live');
    assert.equal(c.readinessProbe.httpGet.path, '/v2/health/ready');
    // The server listens before its models load: the startup probe waits for the process,
    // readiness for the models, so an empty or unreachable store never restarts pods.
    assert.equal(c.startupProbe.httpGet.path, '/v2/health/live');
    assert.ok(c.startupProbe.failureThreshold * c.startupProbe.periodSeconds >= 300);
    assert.deepEqual(c.ports, [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'grpc', containerPort: 8081, protocol: 'TCP' },
    ]);
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
    assert.deepEqual(deployment.spec.strategy.rollingUpdate, {
      maxSurge: '25%',
      maxUnavailable: 0,
    });
  });

  test('non-root, read-only root filesystem, no privilege escalation, emptyDirs for cache and /tmp', () => {
    const deployment = get(objects, 'Deployment', FULL);
    const pod = podSpec(deployment);
    const c = container(deployment);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 10001);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    const volumes = new Map<string, K8sObject>(pod.volumes.map((v: K8sObject) => [v.name, v]));
    const mounts = new Map<string, string>(
      c.volumeMounts.map((m: K8sObject) => [m.mountPath, m.name]),
    );
    assert.ok(volumes.get('cache')?.emptyDir && mounts.get('/var/cache/mscr') === 'cache');
    assert.ok(volumes.get('tmp')?.emptyDir && mounts.get('/tmp') === 'tmp');
    assert.equal(volumes.get('store')?.persistentVolumeClaim.claimName, `${FULL}-store`);
    assert.equal(mounts.get('/var/lib/mscr'), 'store');
  });

  test('graceful termination outlasts the preStop pause plus the drain', () => {
    const deployment = get(objects, 'Deployment', FULL);
    const config = get(objects, 'ConfigMap', FULL);
    const pod = podSpec(deployment);
    const sleep = Number(container(deployment).lifecycle.preStop.exec.command[1]);
    assert.ok(pod.terminationGracePeriodSeconds > sleep + Number(config.data.MSCR_DRAIN_TIMEOUT));
  });

  test('the ConfigMap carries the service settings, and the checksum rolls pods only when it changes', () => {
    const config = get(objects, 'ConfigMap', FULL);
    assert.equal(config.data.MSCR_STORE, 'file:///var/lib/mscr/models');
    assert.equal(config.data.MSCR_PORT, '8080');
    assert.equal(config.data.MSCR_DRAIN_TIMEOUT, '25');
    assert.equal(config.data.MSCR_MAX_BODY_BYTES, '8388608');
    assert.equal(config.data.MSCR_CACHE_DIR, undefined, 'no content cache for a file:// store');
    assert.equal(container(get(objects, 'Deployment', FULL)).envFrom[0].configMapRef.name, FULL);
    const checksum = (o: K8sObject[]) =>
      get(o, 'Deployment', FULL).spec.template.metadata.annotations['checksum/config'];
    const before = checksum(objects);
    assert.match(before, /^[0-9a-f]{64}$/);
    assert.equal(checksum(render([], ['replicaCount=5'])), before);
    assert.notEqual(checksum(render([], ['config.logLevel=debug'])), before);
    assert.equal(
      get(objects, 'CronJob', `${FULL}-retrain`).spec.jobTemplate.spec.template.metadata
        .annotations['checksum/config'],
      before,
    );
  });

  test('Service, ServiceAccount, PodDisruptionBudget and PVC; no HPA, Ingress or GPU objects', () => {
    const service = get(objects, 'Service', FULL);
    assert.deepEqual(service.spec.ports, [
      { port: 80, targetPort: 'http', protocol: 'TCP', name: 'http' },
      {
        port: 8081,
        targetPort: 'grpc',
        protocol: 'TCP',
        name: 'grpc',
        appProtocol: 'kubernetes.io/h2c',
      },
    ]);
    const deployment = get(objects, 'Deployment', FULL);
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
    assert.deepEqual(
      Object.entries(deployment.spec.selector.matchLabels).filter(
        ([k, v]) => deployment.spec.template.metadata.labels[k] !== v,
      ),
      [],
    );
    const pdb = get(objects, 'PodDisruptionBudget', FULL);
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
    // No token in serving pods unless the HTTP retrain trigger needs one (issue 15, item 7).
    assert.equal(get(objects, 'ServiceAccount', FULL).automountServiceAccountToken, false);
    const pvc = get(objects, 'PersistentVolumeClaim', `${FULL}-store`);
    assert.deepEqual(pvc.spec.accessModes, ['ReadWriteMany']);
    assert.equal(pvc.metadata.annotations['helm.sh/resource-policy'], 'keep');
    for (const kind of ['HorizontalPodAutoscaler', 'Ingress', 'HTTPRoute', 'ServiceMonitor']) {
      assert.equal(find(objects, kind), undefined, `no ${kind}`);
    }
    assert.equal(find(objects, 'Deployment', `${FULL}-gpu`), undefined);
    assert.equal(JSON.stringify(objects).includes('nvidia.com/gpu'), false);
  });

  test('the helm test hook calls /v2/health/ready through the Service', () => {
    const pod = get(objects, 'Pod', `${FULL}-test-connection`);
    assert.equal(pod.metadata.annotations['helm.sh/hook'], 'test');
    assert.equal(pod.spec.restartPolicy, 'Never');
    assert.ok(pod.spec.containers[0].args.includes(`http://${FULL}:80/v2/health/ready`));
  });
});

describe('the retraining CronJob and its RBAC', () => {
  test('the CronJob runs `mscr retrain` with the store configuration, Forbid, limits and deadlines', () => {
    const objects = render();
    const cron = get(objects, 'CronJob', `${FULL}-retrain`);
    assert.equal(cron.apiVersion, 'batch/v1');
    assert.equal(cron.spec.schedule, '0 3 * * *');
    assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
    assert.equal(cron.spec.startingDeadlineSeconds, 600);
    assert.equal(cron.spec.successfulJobsHistoryLimit, 3);
    assert.equal(cron.spec.failedJobsHistoryLimit, 3);
    const job = cron.spec.jobTemplate.spec;
    assert.equal(job.backoffLimit, 1);
    assert.equal(job.activeDeadlineSeconds, 7200);
    assert.equal(job.template.spec.restartPolicy, 'Never');
    const c = container(cron);
    assert.deepEqual(c.args, [
      'retrain',
      '--model',
      'cifar10-cnn',
      '--store',
      'file:///var/lib/mscr/models',
      '--data',
      'file:///var/lib/mscr/data/cifar10-cnn',
    ]);
    assert.ok(
      c.env.some((e: K8sObject) => e.name === 'MSCR_RETRAIN_TRIGGER' && e.value === 'cron'),
      'runs from the schedule are recorded as cron-triggered',
    );
    assert.equal(c.envFrom[0].configMapRef.name, FULL);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.ok(c.resources.requests.cpu);
    const mounts = c.volumeMounts.map((m: K8sObject) => m.mountPath);
    assert.deepEqual(mounts, ['/var/cache/mscr', '/tmp', '/var/lib/mscr']);
    assert.equal(podSpec(cron).automountServiceAccountToken, false);
    assert.equal(podSpec(cron).serviceAccountName, `${FULL}-retrain`);
  });

  test('retraining.rollout ends runs in a canary or a shadow; the ConfigMap sets the rollout interval', () => {
    const argsOf = (sets: string[]) =>
      container(get(render([], sets), 'CronJob', `${FULL}-retrain`)).args.slice(7) as string[];
    assert.deepEqual(argsOf([]), []);
    assert.deepEqual(argsOf(['retraining.rollout.mode=canary', 'retraining.rollout.weight=10']), [
      '--canary',
      '10',
      '--steps',
      '5,25,50,100',
      '--step-every',
      '10m',
    ]);
    assert.deepEqual(
      argsOf(['retraining.rollout.mode=shadow', 'retraining.rollout.stepEvery=1h']),
      ['--shadow', '--steps', '5,25,50,100', '--step-every', '1h'],
    );
    assert.match(renderError(['retraining.rollout.mode=all']), /rollout\/mode/);
    assert.match(renderError(['retraining.rollout.weight=100']), /rollout\/weight/);
    const config = get(render([], ['config.rolloutInterval=5']), 'ConfigMap', FULL);
    assert.equal(config.data.MSCR_ROLLOUT_INTERVAL, '5');
  });

  test('the HTTP retrain trigger: the Service gets the CronJob, its namespace and the admin token Secret', () => {
    const objects = render(
      [],
      [
        'retraining.httpTrigger.enabled=true',
        'retraining.httpTrigger.adminTokenSecret.name=mscr-admin',
      ],
    );
    const e = env(container(get(objects, 'Deployment', FULL)));
    assert.equal(e.get('MSCR_RETRAIN_CRONJOB')?.value, `${FULL}-retrain`);
    assert.ok(e.get('MSCR_RETRAIN_NAMESPACE')?.value);
    assert.deepEqual(e.get('MSCR_ADMIN_TOKEN')?.valueFrom.secretKeyRef, {
      name: 'mscr-admin',
      key: 'token',
    });
    // Off by default, and a Secret is required when on.
    assert.equal(
      env(container(get(render(), 'Deployment', FULL))).get('MSCR_RETRAIN_CRONJOB'),
      undefined,
    );
    assert.match(
      renderError(['retraining.httpTrigger.enabled=true']),
      /retraining\.httpTrigger\.adminTokenSecret\.name is required/,
    );
  });

  test('the Role grants only what `create job --from=cronjob` needs, bound to the ServiceAccount', () => {
    const objects = render(
      [],
      [
        'retraining.rbac.extraSubjects[0].kind=ServiceAccount',
        'retraining.rbac.extraSubjects[0].name=trigger',
        'retraining.rbac.extraSubjects[0].namespace=ops',
      ],
    );
    const role = get(objects, 'Role', `${FULL}-retrain-trigger`);
    assert.deepEqual(role.rules, [
      {
        apiGroups: ['batch'],
        resources: ['cronjobs'],
        resourceNames: [`${FULL}-retrain`],
        verbs: ['get'],
      },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch'] },
    ]);
    assert.equal(find(objects, 'ClusterRole'), undefined);
    const binding = get(objects, 'RoleBinding', `${FULL}-retrain-trigger`);
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: role.metadata.name,
    });
    // The serving pods are bound only when they run the HTTP trigger.
    assert.deepEqual(binding.subjects, [
      { kind: 'ServiceAccount', name: 'trigger', namespace: 'ops' },
    ]);
    const withTrigger = render(
      [],
      [
        'retraining.httpTrigger.enabled=true',
        'retraining.httpTrigger.adminTokenSecret.name=admin',
        'retraining.rbac.extraSubjects[0].kind=ServiceAccount',
        'retraining.rbac.extraSubjects[0].name=trigger',
        'retraining.rbac.extraSubjects[0].namespace=ops',
      ],
    );
    assert.deepEqual(get(withTrigger, 'RoleBinding', `${FULL}-retrain-trigger`).subjects, [
      { kind: 'ServiceAccount', name: FULL, namespace: NAMESPACE },
      { kind: 'ServiceAccount', name: 'trigger', namespace: 'ops' },
    ]);
  });

  test('retraining off: no CronJob, Role or RoleBinding', () => {
    const objects = render(['retraining-off-values.yaml']);
    for (const kind of ['CronJob', 'Role', 'RoleBinding'])
      assert.equal(find(objects, kind), undefined);
    assert.ok(find(objects, 'Deployment', FULL));
  });
});

describe('autoscaling', () => {
  test('an autoscaling/v2 HPA with CPU, memory and in-flight targets and behaviour; no replicas', () => {
    const objects = render(['autoscaling-values.yaml']);
    const deployment = get(objects, 'Deployment', FULL);
    assert.equal('replicas' in deployment.spec, false, 'the HPA owns the replica count');
    const hpa = get(objects, 'HorizontalPodAutoscaler', FULL);
    assert.equal(hpa.apiVersion, 'autoscaling/v2');
    assert.deepEqual(hpa.spec.scaleTargetRef, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: FULL,
    });
    assert.equal(hpa.spec.minReplicas, 3);
    assert.equal(hpa.spec.maxReplicas, 20);
    assert.deepEqual(hpa.spec.metrics, [
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } },
      },
      {
        type: 'Resource',
        resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } },
      },
      {
        type: 'Pods',
        pods: {
          metric: { name: 'mscr_requests_in_flight' },
          target: { type: 'AverageValue', averageValue: '10' },
        },
      },
    ]);
    assert.equal(hpa.spec.behavior.scaleUp.stabilizationWindowSeconds, 30);
    assert.equal(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds, 600);
    assert.deepEqual(hpa.spec.behavior.scaleDown.policies, [
      { type: 'Percent', value: 25, periodSeconds: 120 },
    ]);
    assert.equal(get(objects, 'PodDisruptionBudget', FULL).spec.maxUnavailable, '25%');
  });

  test('the in-flight metric is one the Service exports', () => {
    const names = createMetrics({ processMetrics: false })
      .registry.getMetricsAsArray()
      .map((m) => m.name);
    assert.ok(names.includes('mscr_requests_in_flight'));
  });
});

describe('GPU node pools', () => {
  test('a GPU serving Deployment next to the CPU one: GPU limits, tolerations, nodeSelector, affinity, GPU image', () => {
    const objects = render(['gpu-values.yaml']);
    const gpu = get(objects, 'Deployment', `${FULL}-gpu`);
    const c = container(gpu);
    const pod = podSpec(gpu);
    assert.equal(c.resources.limits['nvidia.com/gpu'], 1);
    assert.equal(c.resources.limits.memory, '8Gi');
    assert.equal(c.image, 'mscr:0.1.0-gpu');
    assert.deepEqual(pod.tolerations, [
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    assert.deepEqual(pod.nodeSelector, { 'cloud.google.com/gke-accelerator': 'nvidia-tesla-t4' });
    assert.equal(
      pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]
        .matchExpressions[0].key,
      'nvidia.com/gpu.product',
    );
    assert.equal(pod.runtimeClassName, 'nvidia');
    assert.equal(env(c).get('MSCR_BACKEND')?.value, 'tensorflow');
    assert.equal(env(c).get('MSCR_WORKERS')?.value, '1');
    assert.equal(gpu.spec.template.metadata.labels['app.kubernetes.io/component'], 'serving-gpu');
    assert.equal('replicas' in gpu.spec, false, 'the GPU HPA owns the count');
    const hpa = get(objects, 'HorizontalPodAutoscaler', `${FULL}-gpu`);
    assert.equal(hpa.spec.scaleTargetRef.name, `${FULL}-gpu`);
    assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas], [1, 3]);
    assert.equal(
      get(objects, 'Service', `${FULL}-gpu`).spec.selector['app.kubernetes.io/component'],
      'serving-gpu',
    );
    assert.equal(
      get(objects, 'PodDisruptionBudget', `${FULL}-gpu`).spec.selector.matchLabels[
        'app.kubernetes.io/component'
      ],
      'serving-gpu',
    );
    // The CPU Deployment stays on ordinary nodes.
    const cpu = get(objects, 'Deployment', FULL);
    assert.equal(container(cpu).resources.limits['nvidia.com/gpu'], undefined);
    assert.equal(podSpec(cpu).tolerations, undefined);
    assert.equal(podSpec(cpu).nodeSelector, undefined);
    assert.equal(container(cpu).image, 'mscr:0.1.0');
  });

  test('retraining on GPU nodes: GPU limit, GPU image, both tolerations, GPU nodeSelector', () => {
    const cron = get(render(['gpu-values.yaml']), 'CronJob', `${FULL}-retrain`);
    const c = container(cron);
    const pod = podSpec(cron);
    assert.equal(c.resources.limits['nvidia.com/gpu'], 2);
    assert.equal(c.image, 'mscr:0.1.0-gpu');
    assert.equal(env(c).get('MSCR_BACKEND')?.value, 'tensorflow');
    assert.deepEqual(
      pod.tolerations.map((t: K8sObject) => t.key),
      ['dedicated', 'nvidia.com/gpu'],
    );
    assert.deepEqual(pod.nodeSelector, { 'cloud.google.com/gke-accelerator': 'nvidia-tesla-t4' });
  });

  test('GPU-only serving: no CPU Deployment; Ingress, HTTPRoute and helm test use the GPU Service', () => {
    const objects = render(['gcs-values.yaml'], ['ingress.enabled=true']);
    assert.equal(find(objects, 'Deployment', FULL), undefined);
    assert.equal(find(objects, 'Service', FULL), undefined);
    assert.ok(find(objects, 'Deployment', `${FULL}-gpu`));
    const route = get(objects, 'HTTPRoute', FULL);
    assert.equal(route.spec.rules[0].backendRefs[0].name, `${FULL}-gpu`);
    assert.equal(
      get(objects, 'Ingress', FULL).spec.rules[0].http.paths[0].backend.service.name,
      `${FULL}-gpu`,
    );
    assert.ok(
      get(objects, 'Pod', `${FULL}-test-connection`).spec.containers[0].args.some((a: string) =>
        a.includes(`${FULL}-gpu:80`),
      ),
    );
  });
});

describe('store configuration', () => {
  test('s3:// with keys from an existing Secret, region, endpoint and path style; no PVC', () => {
    const objects = render(['s3-values.yaml']);
    const config = get(objects, 'ConfigMap', FULL).data;
    assert.equal(config.MSCR_STORE, 's3://mscr-models/prod');
    assert.equal(config.AWS_REGION, 'eu-west-1');
    assert.equal(config.AWS_ENDPOINT_URL, 'http://minio.minio.svc:9000');
    assert.equal(config.MSCR_S3_FORCE_PATH_STYLE, 'true');
    // Downloads are cached on the cache emptyDir, not on the small /tmp one.
    assert.equal(config.MSCR_CACHE_DIR, '/var/cache/mscr/content');
    for (const workload of [
      get(objects, 'Deployment', FULL),
      get(objects, 'CronJob', `${FULL}-retrain`),
    ]) {
      const e = env(container(workload));
      assert.deepEqual(e.get('AWS_ACCESS_KEY_ID')?.valueFrom.secretKeyRef, {
        name: 'mscr-s3',
        key: 'AWS_ACCESS_KEY_ID',
      });
      assert.deepEqual(e.get('AWS_SECRET_ACCESS_KEY')?.valueFrom.secretKeyRef, {
        name: 'mscr-s3',
        key: 'AWS_SECRET_ACCESS_KEY',
      });
      assert.deepEqual(e.get('AWS_SESSION_TOKEN')?.valueFrom.secretKeyRef, {
        name: 'mscr-s3',
        key: 'AWS_SESSION_TOKEN',
      });
      assert.equal(
        podSpec(workload).volumes.some((v: K8sObject) => v.name === 'store'),
        false,
      );
    }
    assert.equal(find(objects, 'PersistentVolumeClaim'), undefined);
    const cron = get(objects, 'CronJob', `${FULL}-retrain`);
    assert.equal(cron.spec.timeZone, 'Europe/Paris');
    assert.deepEqual(container(cron).args.slice(-3), [
      's3://mscr-data/stock/goog_daily.csv',
      '--alias',
      'stable',
    ]);
    const ingress = get(objects, 'Ingress', FULL);
    assert.equal(ingress.spec.ingressClassName, 'nginx');
    assert.deepEqual(ingress.spec.tls, [{ hosts: ['mscr.example.com'], secretName: 'mscr-tls' }]);
  });

  test('gs:// with a key file from a Secret: mounted read-only and named by GOOGLE_APPLICATION_CREDENTIALS', () => {
    const objects = render(
      ['gcs-values.yaml'],
      ['store.credentials.existingSecret=gcp-key', 'store.workloadIdentity.gcpServiceAccount='],
    );
    const deployment = get(objects, 'Deployment', `${FULL}-gpu`);
    const c = container(deployment);
    assert.equal(
      env(c).get('GOOGLE_APPLICATION_CREDENTIALS')?.value,
      '/var/run/secrets/mscr/gcp/key.json',
    );
    const mount = c.volumeMounts.find((m: K8sObject) => m.name === 'gcp-credentials');
    assert.deepEqual(mount, {
      name: 'gcp-credentials',
      mountPath: '/var/run/secrets/mscr/gcp',
      readOnly: true,
    });
    const volume = podSpec(deployment).volumes.find((v: K8sObject) => v.name === 'gcp-credentials');
    assert.equal(volume.secret.secretName, 'gcp-key');
    assert.equal(env(c).has('AWS_ACCESS_KEY_ID'), false);
    assert.equal(get(objects, 'ConfigMap', FULL).data.GOOGLE_CLOUD_PROJECT, 'mscr-prod');
  });

  test('workload identity annotations on the ServiceAccount: GKE and IRSA', () => {
    const gke = get(render(['gcs-values.yaml']), 'ServiceAccount', FULL);
    assert.equal(
      gke.metadata.annotations['iam.gke.io/gcp-service-account'],
      'mscr-serving@mscr-prod.iam.gserviceaccount.com',
    );
    const eks = get(render(['retraining-off-values.yaml']), 'ServiceAccount', FULL);
    assert.equal(
      eks.metadata.annotations['eks.amazonaws.com/role-arn'],
      'arn:aws:iam::123456789012:role/mscr-serving',
    );
    const deployment = get(render(['gcs-values.yaml']), 'Deployment', `${FULL}-gpu`);
    assert.equal(env(container(deployment)).has('GOOGLE_APPLICATION_CREDENTIALS'), false);
  });
});

describe('gRPC', () => {
  test('the pods serve gRPC on a named port, the Service exposes it as h2c, the ConfigMap sets it', () => {
    const objects = render();
    assert.deepEqual(container(get(objects, 'Deployment', FULL)).ports, [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'grpc', containerPort: 8081, protocol: 'TCP' },
    ]);
    const config = get(objects, 'ConfigMap', FULL);
    assert.equal(config.data.MSCR_GRPC_PORT, '8081');
    assert.equal(config.data.MSCR_GRPC_MAX_MESSAGE_BYTES, '8388608');
    const custom = render([], ['config.grpcPort=9000', 'service.grpcPort=443']);
    assert.deepEqual(container(get(custom, 'Deployment', FULL)).ports[1].containerPort, 9000);
    assert.deepEqual(
      get(custom, 'Service', FULL).spec.ports.find((p: K8sObject) => p.name === 'grpc').port,
      443,
    );
  });

  test('config.grpcPort=0 turns gRPC off: no container port, no Service port', () => {
    const objects = render([], ['config.grpcPort=0']);
    assert.deepEqual(
      container(get(objects, 'Deployment', FULL)).ports.map((p: K8sObject) => p.name),
      ['http'],
    );
    assert.deepEqual(
      get(objects, 'Service', FULL).spec.ports.map((p: K8sObject) => p.name),
      ['http'],
    );
    assert.equal(get(objects, 'ConfigMap', FULL).data.MSCR_GRPC_PORT, '0');
  });

  test('the gRPC Ingress routes its hosts to the grpc port with the backend-protocol annotation', () => {
    const objects = render([], ['grpcIngress.enabled=true']);
    const ingress = get(objects, 'Ingress', `${FULL}-grpc`);
    assert.equal(
      ingress.metadata.annotations['nginx.ingress.kubernetes.io/backend-protocol'],
      'GRPC',
    );
    assert.deepEqual(ingress.spec.rules[0].http.paths[0].backend, {
      service: { name: FULL, port: { name: 'grpc' } },
    });
    assert.equal(find(objects, 'Ingress', FULL), undefined, 'the HTTP Ingress stays off');
    assert.match(
      renderError(['grpcIngress.enabled=true', 'config.grpcPort=0']),
      /grpcIngress.enabled needs gRPC in the pods/,
    );
  });
});

describe('monitoring', () => {
  test('the ServiceMonitor scrapes /metrics on the http port of the serving Services', () => {
    const objects = render(['autoscaling-values.yaml']);
    const monitor = get(objects, 'ServiceMonitor', FULL);
    assert.equal(monitor.metadata.labels.release, 'prometheus');
    assert.deepEqual(monitor.spec.endpoints[0], {
      port: 'http',
      path: '/metrics',
      interval: '30s',
      scrapeTimeout: '10s',
    });
    const service = get(objects, 'Service', FULL);
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels))
      assert.equal(service.metadata.labels[k], v);
  });

  test('the Grafana dashboard queries only metrics the Service exports', () => {
    const objects = render(['autoscaling-values.yaml']);
    const config = get(objects, 'ConfigMap', `${FULL}-dashboard`);
    assert.equal(config.metadata.labels.grafana_dashboard, '1');
    const dashboard = JSON.parse(config.data['mscr.json']) as K8sObject;
    const exported = new Set<string>();
    // The service's registry as server.ts builds it: its own metrics and the brokers'.
    const { registry } = createMetrics();
    createBrokerMetrics(registry);
    for (const metric of registry.getMetricsAsArray()) {
      const type = String(metric.type);
      exported.add(metric.name);
      if (type === 'histogram')
        for (const s of ['_bucket', '_sum', '_count']) exported.add(metric.name + s);
      if (type === 'summary') for (const s of ['_sum', '_count']) exported.add(metric.name + s);
    }
    const used = new Set<string>();
    for (const panel of dashboard.panels as K8sObject[]) {
      for (const target of panel.targets as K8sObject[]) {
        for (const name of String(target.expr).match(/\bmscr_[a-z0-9_]+/g) ?? []) used.add(name);
      }
    }
    assert.ok(used.size >= 12, `the dashboard covers the metrics (${[...used].join(', ')})`);
    assert.deepEqual(
      [...used].filter((n) => !exported.has(n)),
      [],
      'metrics the Service does not export',
    );
  });
});

describe('NOTES.txt', () => {
  /**
   * `helm install --dry-run=client` prints NOTES but helm 3.22 still asks a cluster for its
   * version, and `helm template` leaves NOTES out; so a copy of the chart wraps NOTES.txt in a
   * named template and renders it into a ConfigMap, through the same engine and values.
   */
  function renderNotes(sets: string[]): string {
    const copy = join(work, 'notes-chart');
    rmSync(copy, { recursive: true, force: true });
    cpSync(chart, copy, { recursive: true });
    const notes = readFileSync(join(copy, 'templates', 'NOTES.txt'), 'utf8');
    rmSync(join(copy, 'templates', 'NOTES.txt'));
    writeFileSync(
      join(copy, 'templates', '_notes.tpl'),
      `{{- define "test.notes" -}}\n${notes}{{- end }}\n`,
    );
    writeFileSync(
      join(copy, 'templates', 'notes.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include "test.notes" . | quote }}\n',
    );
    const result = helm([
      'template',
      RELEASE,
      copy,
      '--namespace',
      NAMESPACE,
      '--show-only',
      'templates/notes.yaml',
      ...sets.flatMap((s) => ['--set', s]),
    ]);
    assert.equal(result.status, 0, result.stderr);
    return (parseObjects(result.stdout)[0] as K8sObject).data.notes as string;
  }

  test('names the gRPC port with a port-forward line, and not when gRPC is off', () => {
    const notes = renderNotes([]);
    assert.match(notes, /h2c on port 8081 of service demo-mscr/);
    assert.match(notes, /port-forward service\/demo-mscr 8081:8081/);
    assert.doesNotMatch(renderNotes(['config.grpcPort=0']), /gRPC/);
  });

  test('prints how to reach the Service and curl lines for V1 predict and V2 infer', () => {
    const notes = renderNotes(['config.models={shapes}']);
    assert.match(notes, /kubectl --namespace ml port-forward service\/demo-mscr 8080:80/);
    assert.match(
      notes,
      /curl -H 'Content-Type: application\/json' \$MSCR_URL\/v1\/models\/shapes:predict/,
    );
    assert.match(
      notes,
      /curl -H 'Content-Type: application\/json' \$MSCR_URL\/v2\/models\/shapes\/infer/,
    );
    assert.match(notes, /curl \$MSCR_URL\/v2\/health\/ready/);
    assert.match(notes, /helm test demo --namespace ml/);
    assert.match(
      notes,
      /create job --from=cronjob\/demo-mscr-retrain demo-mscr-retrain-\$\(date \+%s\)/,
    );
  });

  test('names the Ingress host, or the GPU Service when it serves alone', () => {
    assert.match(
      renderNotes(['ingress.enabled=true']),
      /export MSCR_URL=http:\/\/mscr.example.com/,
    );
    const gpuOnly = renderNotes(['gpu.serving.enabled=true', 'gpu.serving.keepCpuServing=false']);
    assert.match(gpuOnly, /port-forward service\/demo-mscr-gpu 8080:80/);
    assert.match(gpuOnly, /MODEL and INPUT/);
  });
});

describe('exposure (issue 15, item 7)', () => {
  const TRIGGER = [
    'retraining.httpTrigger.enabled=true',
    'retraining.httpTrigger.adminTokenSecret.name=admin',
  ];

  test('by default no identity of the release can create Jobs and serving pods mount no token', () => {
    const objects = render();
    for (const kind of ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'])
      assert.equal(find(objects, kind), undefined, `no ${kind}`);
    assert.equal(podSpec(get(objects, 'Deployment', FULL)).automountServiceAccountToken, false);
    const retrainSa = get(objects, 'ServiceAccount', `${FULL}-retrain`);
    assert.equal(retrainSa.automountServiceAccountToken, false);
    assert.equal(
      podSpec(get(objects, 'CronJob', `${FULL}-retrain`)).serviceAccountName,
      `${FULL}-retrain`,
    );
  });

  test('the HTTP trigger mounts the token, binds the Role to the serving account only, and opens egress to the API server', () => {
    const objects = render([], TRIGGER);
    const deployment = get(objects, 'Deployment', FULL);
    assert.equal(podSpec(deployment).automountServiceAccountToken, true);
    assert.deepEqual(get(objects, 'RoleBinding', `${FULL}-retrain-trigger`).subjects, [
      { kind: 'ServiceAccount', name: FULL, namespace: NAMESPACE },
    ]);
    const policy = get(objects, 'NetworkPolicy', FULL);
    const ports = policy.spec.egress.flatMap((rule: K8sObject) =>
      rule.ports.map((p: K8sObject) => `${p.protocol}/${p.port}`),
    );
    assert.deepEqual(ports, ['UDP/53', 'TCP/53', 'TCP/443', 'TCP/6443']);
    const pinned = render([], [...TRIGGER, 'networkPolicy.apiServer.cidrs[0]=10.96.0.1/32']);
    assert.deepEqual(get(pinned, 'NetworkPolicy', FULL).spec.egress.at(-1).to, [
      { ipBlock: { cidr: '10.96.0.1/32' } },
    ]);
  });

  test('the NetworkPolicy: in only to the serving port, out only to DNS (and the store when it is remote)', () => {
    const objects = render();
    const policy = get(objects, 'NetworkPolicy', FULL);
    assert.deepEqual(policy.spec.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(policy.spec.ingress, [
      {
        ports: [
          { port: 8080, protocol: 'TCP' },
          { port: 8081, protocol: 'TCP' },
        ],
      },
    ]);
    const noGrpc = render([], ['config.grpcPort=0']);
    assert.deepEqual(get(noGrpc, 'NetworkPolicy', FULL).spec.ingress, [
      { ports: [{ port: 8080, protocol: 'TCP' }] },
    ]);
    assert.deepEqual(policy.spec.egress, [
      {
        ports: [
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'TCP' },
        ],
      },
    ]);
    const labels = get(objects, 'Deployment', FULL).spec.template.metadata.labels;
    for (const { key, values } of policy.spec.podSelector.matchExpressions)
      if (labels[key] !== undefined) assert.ok(values.includes(labels[key]), key);
    const s3 = render(['s3-values.yaml']);
    const egress = get(s3, 'NetworkPolicy', FULL).spec.egress;
    assert.deepEqual(egress[1], { ports: [{ port: 443, protocol: 'TCP' }] });
    const minio = render(['s3-values.yaml'], ['networkPolicy.storeEgress[0].ports[0].port=9000']);
    assert.deepEqual(get(minio, 'NetworkPolicy', FULL).spec.egress[1], { ports: [{ port: 9000 }] });
    const from = render(
      [],
      ['networkPolicy.ingressFrom[0].namespaceSelector.matchLabels.team=web'],
    );
    assert.deepEqual(get(from, 'NetworkPolicy', FULL).spec.ingress[0].from, [
      { namespaceSelector: { matchLabels: { team: 'web' } } },
    ]);
    assert.equal(find(render([], ['networkPolicy.enabled=false']), 'NetworkPolicy'), undefined);
    const brokers = render(
      [],
      ['brokers.amqp.urlSecret.name=amqp', 'brokers.mqtt.urlSecret.name=mqtt'],
    );
    const brokerPorts = get(brokers, 'NetworkPolicy', FULL).spec.egress.flatMap((r: K8sObject) =>
      r.ports.map((p: K8sObject) => p.port),
    );
    assert.deepEqual(brokerPorts, [53, 53, 5672, 5671, 1883, 8883]);
  });

  test('the Ingress and the HTTPRoute expose inference only by default: never /, /metrics or /mscr', () => {
    const objects = render([], ['ingress.enabled=true', 'httpRoute.enabled=true']);
    const paths = get(objects, 'Ingress', FULL).spec.rules[0].http.paths.map(
      (p: K8sObject) => p.path,
    );
    assert.deepEqual(paths, ['/v2/models', '/v2/health', '/v1/models']);
    const routed = get(objects, 'HTTPRoute', FULL).spec.rules.flatMap((r: K8sObject) =>
      r.matches.map((m: K8sObject) => m.path.value),
    );
    assert.deepEqual(routed, ['/v2/models', '/v2/health', '/v1/models']);
    for (const path of [...paths, ...routed])
      for (const hidden of ['/metrics', '/mscr/models/x/feedback', '/mscr/models/x/retrain', '/'])
        assert.ok(!(hidden === path || hidden.startsWith(`${path}/`)), `${path} exposes ${hidden}`);
  });

  test('read-only store credentials for serving: serving pods use them, the retraining job the read-write ones', () => {
    const objects = render(
      ['s3-values.yaml'],
      ['store.credentials.existingSecret=rw', 'store.credentials.servingExistingSecret=ro'],
    );
    const serving = env(container(get(objects, 'Deployment', FULL)));
    assert.equal(serving.get('AWS_ACCESS_KEY_ID')?.valueFrom.secretKeyRef.name, 'ro');
    assert.equal(serving.get('AWS_SECRET_ACCESS_KEY')?.valueFrom.secretKeyRef.name, 'ro');
    const retraining = env(container(get(objects, 'CronJob', `${FULL}-retrain`)));
    assert.equal(retraining.get('AWS_ACCESS_KEY_ID')?.valueFrom.secretKeyRef.name, 'rw');
    const gcs = render(
      ['gcs-values.yaml'],
      [
        'store.credentials.existingSecret=rw',
        'store.credentials.servingExistingSecret=ro',
        'store.workloadIdentity.gcpServiceAccount=',
      ],
    );
    const volumes = (w: K8sObject) =>
      podSpec(w).volumes.find((v: K8sObject) => v.name === 'gcp-credentials')?.secret.secretName;
    assert.equal(volumes(get(gcs, 'Deployment', `${FULL}-gpu`)), 'ro');
    assert.equal(volumes(get(gcs, 'CronJob', `${FULL}-retrain`)), 'rw');
  });

  test('unknown networkPolicy keys are refused by the schema', () => {
    assert.match(renderError(['networkPolicy.open=true']), /additional properties|open/i);
  });
});
