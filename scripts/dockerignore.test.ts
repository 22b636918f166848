// The .dockerignore rules scripts/build-images.mjs keys its cache on. That they agree with
// what buildah actually sends is checked against a real build in docker/built-images.test.ts;
// these pin the rules themselves, on the project's own file and on the corner cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIgnored, parseDockerignore } from './dockerignore.mjs';

const root = new URL('..', import.meta.url).pathname;

test('the project Dockerfile.dockerignore keeps the sources and drops tests, test data and local files', () => {
  const rules = parseDockerignore(readFileSync(join(root, 'Dockerfile.dockerignore'), 'utf8'));
  const kept = (path: string) => !isIgnored(rules, path);
  for (const path of [
    'package.json',
    'package-lock.json',
    '.npmrc',
    'bin/mscr.js',
    'service/http/app.ts',
    'client/web/public/index.html',
    'docker/healthcheck.mjs',
  ])
    assert.ok(kept(path), `${path} is kept`);
  for (const path of [
    'README.md',
    'Dockerfile',
    'docker/image.test.ts',
    'docker/minio.Dockerfile',
    'service/http/app.test.ts',
    'model/testdata/a.json',
    'client/web/node_modules/x/index.js',
    'node_modules/express/index.js',
    '.tools/bin/k6',
    'dist/cli/main.js',
    'models/toy/1/model.json',
  ])
    assert.ok(!kept(path), `${path} is left out`);
});

test('pattern rules: segments, `**`, parents, the last match wins, comments and blanks', () => {
  const rules = parseDockerignore(
    [
      '# a comment',
      '',
      '*.log',
      '/build/',
      'docs/**/*.md',
      '!docs/keep.md',
      'a?c',
      '**/cache',
      '!**/cache/keep',
    ].join('\n'),
  );
  const ignored = (path: string) => isIgnored(rules, path);
  assert.ok(ignored('x.log'));
  assert.ok(!ignored('sub/x.log'), '`*` stays within the top folder');
  assert.ok(ignored('build/out/a.js'), 'a folder pattern covers what is below it');
  assert.ok(!ignored('src/build/a.js'), 'patterns are anchored at the context root');
  assert.ok(ignored('docs/a.md') && ignored('docs/x/y/a.md'), '`**/` spans zero or more folders');
  assert.ok(!ignored('docs/keep.md'), 'a later `!` keeps');
  assert.ok(!ignored('docs/a.txt'));
  assert.ok(ignored('abc') && !ignored('abbc') && !ignored('a/c'), '`?` is one non-slash');
  assert.ok(ignored('cache/x') && ignored('p/q/cache/x'));
  assert.ok(!ignored('p/cache/keep'), 'negation with `**`');
  assert.ok(!ignored('README'));
});

test('regex metacharacters in names are literal; an escaped `*` matches only a star', () => {
  const rules = parseDockerignore('a+b.(c)\nstar\\*\n');
  assert.ok(isIgnored(rules, 'a+b.(c)'));
  assert.ok(!isIgnored(rules, 'aab.(c)'));
  assert.ok(isIgnored(rules, 'star*'));
  assert.ok(!isIgnored(rules, 'starx'));
});
