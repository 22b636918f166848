/**
 * Where the Kubernetes credentials come from: an explicit kubeconfig (path or loaded object),
 * then $KUBECONFIG, then the pod's ServiceAccount (in-cluster: KUBERNETES_SERVICE_HOST/PORT
 * and the mounted token), then ~/.kube/config. Unlike kubectl, a pod's own ServiceAccount
 * wins over a ~/.kube/config that an image happens to contain.
 * The namespace: explicit, else the context's (in a pod: the ServiceAccount's), else "default".
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { MscrError, errorMessage } from '../connectors/errors.ts';

export interface KubeConfigOptions {
  /** A kubeconfig file, or a KubeConfig already loaded. */
  kubeconfig?: string | KubeConfig;
  /** Context of the kubeconfig to use; default: its current-context. */
  context?: string;
  /** Namespace; default: the context's namespace, else "default". */
  namespace?: string;
  /**
   * Root under which the in-cluster ServiceAccount files are read
   * (`<root>/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}`);
   * "" (the default) in a pod, a folder in tests.
   */
  inClusterRoot?: string;
}

export interface LoadedKubeConfig {
  config: KubeConfig;
  namespace: string;
  /** Where it came from, for messages: a path, "in-cluster" or "given". */
  source: string;
  /** The API server's URL. */
  server: string;
}

const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function fromFile(path: string, what: string): KubeConfig {
  const config = new KubeConfig();
  try {
    config.loadFromFile(path);
  } catch (error) {
    throw new MscrError(
      'config',
      `cannot read the kubeconfig ${path} (${what}): ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  return config;
}

function fromEnvironment(inClusterRoot: string): { config: KubeConfig; source: string } {
  const list = process.env.KUBECONFIG?.split(':').filter(Boolean) ?? [];
  if (list.length > 0) {
    const config = fromFile(list[0] as string, 'from KUBECONFIG');
    for (const path of list.slice(1)) {
      if (existsSync(path)) config.mergeConfig(fromFile(path, 'from KUBECONFIG'), true);
    }
    return { config, source: list.join(':') };
  }
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(`${inClusterRoot}${TOKEN_PATH}`)) {
    const config = new KubeConfig();
    config.loadFromCluster(inClusterRoot);
    return { config, source: 'in-cluster' };
  }
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return { config: fromFile(home, 'the default'), source: home };
  throw new MscrError(
    'config',
    'no Kubernetes configuration found: pass a kubeconfig, set KUBECONFIG, create ' +
      '~/.kube/config, or run in a pod with a ServiceAccount token mounted',
  );
}

export function loadKubeConfig(options: KubeConfigOptions = {}): LoadedKubeConfig {
  const { kubeconfig, inClusterRoot = '' } = options;
  let loaded: { config: KubeConfig; source: string };
  if (kubeconfig instanceof KubeConfig) loaded = { config: kubeconfig, source: 'given' };
  else if (kubeconfig) loaded = { config: fromFile(kubeconfig, 'given'), source: kubeconfig };
  else loaded = fromEnvironment(inClusterRoot);
  const { config, source } = loaded;
  if (options.context) {
    if (!config.getContextObject(options.context)) {
      const known = config.getContexts().map((c) => c.name);
      throw new MscrError(
        'config',
        `kubeconfig ${source} has no context "${options.context}" (it has: ${known.join(', ') || 'none'})`,
      );
    }
    config.setCurrentContext(options.context);
  }
  const server = config.getCurrentCluster()?.server;
  if (!server) {
    throw new MscrError(
      'config',
      `kubeconfig ${source} names no cluster server for its current context`,
    );
  }
  const contextNamespace = config.getContextObject(config.getCurrentContext())?.namespace?.trim();
  const namespace = options.namespace || contextNamespace || 'default';
  return { config, namespace, source, server };
}
