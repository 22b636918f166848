/**
 * The control-plane policy of the test files: start one for the file; when it cannot start,
 * fail loudly under CI (CI set) and skip with the reason elsewhere.
 *
 *     const cluster = await clusterForTests({ controllers: [...] });
 *     describe('...', { skip: cluster.skip }, () => { ... cluster.plane ... });
 *     after(() => cluster.plane?.stop());
 */
import { errorMessage } from '../../connectors/errors.ts';
import { missingBinaries, startControlPlane } from './control-plane.ts';
import type { ControlPlane, ControlPlaneOptions } from './control-plane.ts';

export interface TestCluster {
  plane?: ControlPlane;
  /** Why the tests are skipped (false when the control plane runs). */
  skip: string | false;
}

export async function clusterForTests(options: ControlPlaneOptions = {}): Promise<TestCluster> {
  const missing = missingBinaries();
  let reason: string;
  if (missing.length > 0) {
    reason = `${missing.join(', ')} not in .tools/bin: run \`node scripts/setup-kube.mjs\` (npm test does)`;
  } else {
    try {
      return { plane: await startControlPlane(options), skip: false };
    } catch (error) {
      reason = `the Kubernetes control plane did not start: ${errorMessage(error)}`;
    }
  }
  if (process.env.CI) throw new Error(`CI is set, so this cannot be skipped: ${reason}`);
  console.warn(`skipping: ${reason}`);
  return { skip: reason };
}
