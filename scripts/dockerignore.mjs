// The files of a build context that a .dockerignore keeps, with the matching rules of
// BuildKit and buildah (github.com/moby/patternmatcher): patterns are cleaned paths relative
// to the context, `*` and `?` stay within one path segment, `**` spans segments, a pattern
// that matches a parent folder matches everything below it, and the last matching line wins
// (`!` lines keep). Plain Node, used by scripts/build-images.mjs for its cache key.
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';

/** Regular expression source for one cleaned pattern (no leading `!`). */
function patternSource(pattern) {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          source += '(?:.*/)?'; // `**/` also matches no folder at all
        } else {
          source += '.*';
        }
      } else {
        source += '[^/]*';
      }
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '\\' && i + 1 < pattern.length) {
      i++;
      source += pattern[i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else {
      source += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return `^${source}$`;
}

/** The rules of a .dockerignore text, in order. */
export function parseDockerignore(text) {
  const rules = [];
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const keep = line.startsWith('!');
    if (keep) line = line.slice(1).trim();
    line = posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (line === '' || line === '.') continue;
    rules.push({ keep, pattern: line, regex: new RegExp(patternSource(line)) });
  }
  return rules;
}

/** Whether a context-relative file path is excluded by the rules. */
export function isIgnored(rules, path) {
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (prefixes.some((prefix) => rule.regex.test(prefix))) ignored = !rule.keep;
  }
  return ignored;
}

/** The paths (of `paths`) that a build with this .dockerignore file sends to the builder. */
export function keptPaths(ignoreFile, paths) {
  const rules = parseDockerignore(readFileSync(ignoreFile, 'utf8'));
  return paths.filter((path) => !isIgnored(rules, path));
}
