/**
 * The version policy of progressive delivery (TF Serving's `ServableVersionPolicy` shape: a
 * pure function of the desired state). It wraps the Service's own policy:
 *
 * - a running rollout (`shadow` or `canary`): the union of `stable` and `candidate`, those of
 *   them that are ready, so both are loaded on every replica at once;
 * - a rolled-back rollout: the base policy over the ready versions *without* the candidate,
 *   so `latest` does not hand the traffic back to the version that was just rolled back;
 * - otherwise (no rollout, or promoted): the base policy unchanged.
 *
 * The manager's "serving" version is then the highest of the union; which one answers an
 * unpinned request is the router's business (`router.ts`), not the manager's.
 */
import { isActive } from '../../connectors/store/rollout.ts';
import type { VersionPolicy } from '../reload/policy.ts';
import type { DesiredState } from '../reload/source.ts';

export function withRollout(base: VersionPolicy): VersionPolicy {
  const choose = (desired: DesiredState): number[] => {
    const rollout = desired.rollout;
    if (isActive(rollout)) {
      const wanted = [rollout.stable, rollout.candidate].filter((v) =>
        desired.versions.includes(v),
      );
      return [...new Set(wanted)].sort((a, b) => a - b);
    }
    if (rollout?.phase === 'rolled_back') {
      return base({
        ...desired,
        versions: desired.versions.filter((v) => v !== rollout.candidate),
      });
    }
    return base(desired);
  };
  return Object.assign(choose, { description: `rollout(${base.description ?? 'custom'})` });
}
