/**
 * Certificates of a throwaway control plane, made with the openssl command line (in the
 * machine image): one CA, the API server's serving certificate for 127.0.0.1 and localhost,
 * client certificates (an admin in system:masters), and the RSA key pair that signs
 * ServiceAccount tokens. Valid for two days; nothing here is meant to outlive a test run.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertPair {
  cert: string;
  key: string;
}

export interface Pki {
  ca: CertPair;
  /** Serving certificate of kube-apiserver (SAN 127.0.0.1, localhost). */
  apiserver: CertPair;
  /** Client certificate of CN=mscr-test-admin, O=system:masters. */
  admin: CertPair;
  /** ServiceAccount token signing key (private) and its public key. */
  serviceAccount: { key: string; pub: string };
}

const DAYS = '2';

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr || String(error)}`, { cause: error });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Issues a certificate (EC P-256 key) signed by `ca`, with the given X.509 v3 extensions. */
export function issueCert(
  dir: string,
  ca: CertPair,
  name: string,
  subject: string,
  ext: string[],
): CertPair {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, `${ext.join('\n')}\n`);
  openssl(['req', '-new', ...EC, '-keyout', pair.key, '-out', csr, '-subj', subject]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    DAYS,
    '-extfile',
    extFile,
    '-out',
    pair.cert,
  ]);
  return pair;
}

/**
 * Writes a fresh PKI into `dir` (which must exist). `sans`: more subject alternative names of
 * the API server's certificate (e.g. `IP:10.0.0.1` for a node's address).
 */
export function generatePki(dir: string, sans: string[] = []): Pki {
  const ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  openssl([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    ca.key,
    '-out',
    ca.cert,
    '-days',
    DAYS,
    '-subj',
    '/CN=mscr-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  const apiserver = issueCert(dir, ca, 'apiserver', '/CN=kube-apiserver', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${['IP:127.0.0.1', 'DNS:localhost', 'DNS:kubernetes.default.svc', ...sans].join(',')}`,
  ]);
  const admin = issueCert(dir, ca, 'admin', '/O=system:masters/CN=mscr-test-admin', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ]);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const serviceAccount = { key: join(dir, 'sa.key'), pub: join(dir, 'sa.pub') };
  writeFileSync(serviceAccount.key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(serviceAccount.pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { ca, apiserver, admin, serviceAccount };
}
