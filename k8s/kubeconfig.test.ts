/**
 * Where the trigger's credentials come from, and what it says when they are wrong or the API
 * server is not there (a real connection to a closed loopback port; no cluster needed).
 */
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMscrError } from '../connectors/errors.ts';
import { createKubernetesTrigger, loadKubeConfig } from './index.ts';

const work = mkdtempSync(join(tmpdir(), 'mscr-kubeconfig-'));
after(() => rmSync(work, { recursive: true, force: true }));

function kubeconfig(name: string, server: string, namespace?: string): string {
  const path = join(work, name);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
    contexts: [
      { name: 'main', context: { cluster: 'c', user: 'u', ...(namespace ? { namespace } : {}) } },
      { name: 'other', context: { cluster: 'c', user: 'u', namespace: 'elsewhere' } },
    ],
    'current-context': 'main',
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 1;
}

const saved: Record<string, string | undefined> = {};
const ENV = ['KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'HOME'];
beforeEach(() => {
  for (const key of ENV) saved[key] = process.env[key];
  for (const key of ENV) delete process.env[key];
  process.env.HOME = join(work, 'home'); // no ~/.kube/config
});
afterEach(() => {
  for (const key of ENV) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

describe('loadKubeConfig', () => {
  test('an explicit path: namespace from the context, else "default", else the option', () => {
    const path = kubeconfig('a.json', 'https://127.0.0.1:1', 'ml');
    assert.equal(loadKubeConfig({ kubeconfig: path }).namespace, 'ml');
    assert.equal(loadKubeConfig({ kubeconfig: path, namespace: 'x' }).namespace, 'x');
    assert.equal(loadKubeConfig({ kubeconfig: path, context: 'other' }).namespace, 'elsewhere');
    const bare = kubeconfig('b.json', 'https://127.0.0.1:1');
    const loaded = loadKubeConfig({ kubeconfig: bare });
    assert.equal(loaded.namespace, 'default');
    assert.equal(loaded.server, 'https://127.0.0.1:1');
    assert.equal(loaded.source, bare);
  });

  test('KUBECONFIG is used when no path is given', () => {
    process.env.KUBECONFIG = kubeconfig('env.json', 'https://127.0.0.1:2', 'from-env');
    const loaded = loadKubeConfig();
    assert.equal(loaded.namespace, 'from-env');
    assert.equal(loaded.server, 'https://127.0.0.1:2');
  });

  test('in a pod: the ServiceAccount token, CA and namespace files', () => {
    const root = join(work, 'pod');
    const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'token');
    writeFileSync(join(sa, 'ca.crt'), '');
    writeFileSync(join(sa, 'namespace'), 'ml-prod');
    process.env.KUBERNETES_SERVICE_HOST = '10.0.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    const loaded = loadKubeConfig({ inClusterRoot: root });
    assert.equal(loaded.source, 'in-cluster');
    assert.equal(loaded.server, 'https://10.0.0.1:443');
    assert.equal(loaded.namespace, 'ml-prod');
  });

  test('clear config errors: missing file, unknown context, nothing at all', () => {
    assert.throws(
      () => loadKubeConfig({ kubeconfig: join(work, 'nope.yaml') }),
      (e) => isMscrError(e, 'config') && /cannot read the kubeconfig .*nope\.yaml/.test(e.message),
    );
    const path = kubeconfig('c.json', 'https://127.0.0.1:1');
    assert.throws(
      () => loadKubeConfig({ kubeconfig: path, context: 'prod' }),
      (e) =>
        isMscrError(e, 'config') && /no context "prod" \(it has: main, other\)/.test(e.message),
    );
    assert.throws(
      () => loadKubeConfig(),
      (e) => isMscrError(e, 'config') && /no Kubernetes configuration found/.test(e.message),
    );
  });
});

describe('an API server that cannot be reached', () => {
  test('trigger fails with unavailable, naming the server and the connection error', async () => {
    const server = `https://127.0.0.1:${await closedPort()}`;
    const trigger = createKubernetesTrigger({
      kubeconfig: kubeconfig('closed.json', server, 'ml'),
      cronJobName: 'demo-mscr-retrain',
    });
    await assert.rejects(trigger.trigger({ reason: 'test' }), (e) => {
      assert.ok(isMscrError(e, 'unavailable'), String(e));
      assert.equal(e.status, 503);
      assert.match(e.message, new RegExp(`cannot reach the Kubernetes API server at ${server}`));
      assert.match(e.message, /ECONNREFUSED/);
      assert.match(e.message, /cronjobs\.batch "demo-mscr-retrain" in namespace "ml"/);
      return true;
    });
  });
});
