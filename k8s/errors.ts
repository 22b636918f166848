/**
 * Kubernetes API failures as MscrErrors whose message says what to do: which verb on which
 * resource the identity lacks (and which Role of the chart grants it), which object is
 * missing, or that the API server cannot be reached.
 */
import { ApiException } from '@kubernetes/client-node';
import { MscrError, errorMessage } from '../connectors/errors.ts';

/** The API call that failed, in RBAC terms. */
export interface ApiCall {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'delete';
  /** Plural resource, e.g. "cronjobs". */
  resource: string;
  /** API group, "" for the core group. */
  group: string;
  namespace: string;
  name?: string;
  /** The API server's URL, for unreachable-server messages. */
  server: string;
  /** What to check when the call is forbidden, e.g. which Role grants it. */
  rbacHint?: string;
  /** What to check when the object does not exist. */
  notFoundHint?: string;
}

/** The `Status` object Kubernetes answers errors with (the parts mscr reads). */
interface KubernetesStatus {
  message?: string;
  reason?: string;
}

function statusOf(body: unknown): KubernetesStatus {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return { message: body.trim() || undefined };
    }
  }
  if (parsed && typeof parsed === 'object') {
    const { message, reason } = parsed as Record<string, unknown>;
    return {
      message: typeof message === 'string' ? message : undefined,
      reason: typeof reason === 'string' ? reason : undefined,
    };
  }
  return {};
}

/** Node's system error code of a failed request (ECONNREFUSED, ...), through `cause` chains. */
function systemCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (typeof code === 'string') return code;
    e = cause;
  }
  return undefined;
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** Who was denied, from the API server's message ("User \"system:serviceaccount:ns:sa\" cannot ..."). */
function subject(message: string | undefined): string {
  const user = /User "([^"]+)"/.exec(message ?? '')?.[1];
  if (!user) return 'the identity in use';
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user);
  return sa ? `the ServiceAccount "${sa[2]}" of namespace "${sa[1]}"` : `the user "${user}"`;
}

function target(call: ApiCall): string {
  const resource = call.group ? `${call.resource}.${call.group}` : call.resource;
  return `${resource}${call.name ? ` "${call.name}"` : ''} in namespace "${call.namespace}"`;
}

/** An MscrError for a failed Kubernetes API call. Already-mapped MscrErrors pass through. */
export function kubernetesError(error: unknown, call: ApiCall): MscrError {
  if (error instanceof MscrError) return error;
  const options = { cause: error };
  if (error instanceof ApiException) {
    const code = Number(error.code);
    const status = statusOf(error.body);
    const said = status.message ? ` (API server: ${status.message})` : '';
    if (code === 401) {
      return new MscrError(
        'config',
        `Kubernetes rejected the credentials when trying to ${call.verb} ${target(call)}: ` +
          `the token or client certificate is missing, expired or not trusted${said}`,
        { ...options, status: 401 },
      );
    }
    if (code === 403) {
      const hint = call.rbacHint ? `; ${call.rbacHint}` : '';
      return new MscrError(
        'config',
        `forbidden: ${subject(status.message)} lacks the RBAC verb "${call.verb}" on ` +
          `${target(call)}${hint}${said}`,
        { ...options, status: 403 },
      );
    }
    if (code === 404) {
      const hint = call.notFoundHint ? `: ${call.notFoundHint}` : '';
      return new MscrError('not_found', `${target(call)} not found${hint}`, options);
    }
    if (code === 409) {
      return new MscrError('conflict', `could not ${call.verb} ${target(call)}${said}`, options);
    }
    if (code === 400 || code === 422) {
      return new MscrError(
        'config',
        `the API server refused to ${call.verb} ${target(call)} as invalid${said}`,
        { ...options, status: 422 },
      );
    }
    return new MscrError(
      'unavailable',
      `the Kubernetes API server answered ${code} to ${call.verb} ${target(call)}${said}`,
      options,
    );
  }
  const code = systemCode(error);
  if (code && UNREACHABLE.has(code)) {
    return new MscrError(
      'unavailable',
      `cannot reach the Kubernetes API server at ${call.server} (${code}) to ${call.verb} ` +
        `${target(call)}: check the kubeconfig's server address, or that the pod's network ` +
        `reaches the API server`,
      options,
    );
  }
  if (code && /CERT|SELF_SIGNED|TLS|SSL/i.test(code)) {
    return new MscrError(
      'config',
      `TLS to the Kubernetes API server at ${call.server} failed (${code}): the kubeconfig's ` +
        `certificate-authority does not match the server's certificate`,
      options,
    );
  }
  return new MscrError(
    'unavailable',
    `Kubernetes API call to ${call.verb} ${target(call)} at ${call.server} failed: ${errorMessage(error)}`,
    options,
  );
}
