/**
 * Hot reload, part 2: **version policies** (TF Serving's `ServableVersionPolicy`: latest,
 * all, specific; plus `alias`, which follows a pointer in the store).
 *
 * A policy is a pure function from the desired state of a model to the versions that should
 * be loaded ("aspired"). It only ever chooses among the listed ready versions, returns them
 * ascending and without duplicates, and may return none (for instance a `specific` list of
 * versions that are all gone, or an alias that does not exist): the manager then unloads the
 * model, as TF Serving does when no version is aspired.
 */
import { MscrError } from '../../connectors/errors.ts';
import { isVersionNumber } from '../../connectors/ms/manifest.ts';
import { validateAliasName } from '../../connectors/store/index.ts';
import type { DesiredState } from './source.ts';

/** The versions of a model to load, ascending; `description` is its text form (`latest:2`). */
export interface VersionPolicy {
  (desired: DesiredState): number[];
  readonly description?: string;
}

function described(
  description: string,
  choose: (desired: DesiredState) => number[],
): VersionPolicy {
  return Object.assign(choose, { description });
}

function ascending(versions: Iterable<number>): number[] {
  return [...new Set(versions)].sort((a, b) => a - b);
}

function configError(message: string): MscrError {
  return new MscrError('config', message);
}

/** The newest `n` ready versions. */
export function latest(n = 1): VersionPolicy {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw configError(`latest(n): n must be a positive integer; got ${String(n)}`);
  }
  return described(`latest:${n}`, (desired) => ascending(desired.versions).slice(-n));
}

/** Every ready version. */
export function all(): VersionPolicy {
  return described('all', (desired) => ascending(desired.versions));
}

/** The given versions, those of them that are ready. */
export function specific(versions: readonly number[]): VersionPolicy {
  if (!Array.isArray(versions) || versions.length === 0) {
    throw configError('specific([...]) needs at least one version');
  }
  const bad = versions.filter((v) => !isVersionNumber(v));
  if (bad.length > 0) {
    throw configError(
      `specific([...]): versions are positive integers; got ${bad.map(String).join(', ')}`,
    );
  }
  const wanted = new Set(versions);
  return described(`specific:${ascending(wanted).join(',')}`, (desired) =>
    ascending(desired.versions.filter((v) => wanted.has(v))),
  );
}

/** The version an alias points at, when the alias exists and its version is ready. */
export function alias(name: string): VersionPolicy {
  try {
    validateAliasName(name);
  } catch (error) {
    throw configError(`alias(name): ${(error as Error).message}`);
  }
  return described(`alias:${name}`, (desired) => {
    const target = Object.hasOwn(desired.aliases, name) ? desired.aliases[name] : undefined;
    return target !== undefined && desired.versions.includes(target) ? [target] : [];
  });
}

const POLICY_FORMS = "'latest', 'latest:<n>', 'all', 'specific:<v>[,<v>...]' or 'alias:<name>'";

/** `latest`, `latest:2`, `all`, `specific:1,3`, `alias:stable` -> a policy; `MscrError('config')` otherwise. */
export function parsePolicy(text: string): VersionPolicy {
  if (typeof text !== 'string') throw configError(`version policy must be ${POLICY_FORMS}`);
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  const kind = (colon === -1 ? trimmed : trimmed.slice(0, colon)).toLowerCase();
  const argument = colon === -1 ? undefined : trimmed.slice(colon + 1).trim();
  const bad = (why: string): MscrError =>
    configError(`invalid version policy ${JSON.stringify(text)}: ${why}; use ${POLICY_FORMS}`);
  const number = (part: string): number => {
    if (!/^[1-9][0-9]{0,15}$/.test(part) || !Number.isSafeInteger(Number(part))) {
      throw bad(`${JSON.stringify(part)} is not a positive integer`);
    }
    return Number(part);
  };
  switch (kind) {
    case 'latest':
      return latest(argument === undefined ? 1 : number(argument));
    case 'all':
      if (argument !== undefined) throw bad("'all' takes no argument");
      return all();
    case 'specific':
      if (argument === undefined || argument === '') throw bad("'specific' needs versions");
      return specific(argument.split(',').map((part) => number(part.trim())));
    case 'alias':
      if (argument === undefined || argument === '') throw bad("'alias' needs an alias name");
      try {
        return alias(argument);
      } catch (error) {
        throw bad((error as Error).message);
      }
    default:
      throw bad(`unknown policy ${JSON.stringify(kind)}`);
  }
}
