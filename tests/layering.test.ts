/**
 * The MSC/R rule that gives the folders their meaning: layers talk only through the typed
 * connectors. A file in one layer may import its own layer, `connectors/`, Node built-ins
 * and packages (and runtime/, the TF.js backend every layer runs on), never another layer's
 * internals. `connectors/` and `runtime/` import nothing of the layers. `cli/` and `bench/` are composition roots and may wire everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const layers = [
  'model',
  'service',
  'client',
  'retraining',
  'k8s',
  'connectors',
  'runtime',
] as const;

function sourceFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(entry) ? [path] : [];
  });
}

const importPattern =
  /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

/** Every relative import of a source text, resolved to a path relative to the project root. */
export function relativeImports(file: string, text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(importPattern)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (specifier?.startsWith('.')) found.push(relative(root, resolve(dirname(file), specifier)));
  }
  return found;
}

/** The layer violations of one file: imports that reach into another layer. */
export function violations(fileFromRoot: string, imports: string[]): string[] {
  const layer = fileFromRoot.split('/')[0] ?? '';
  if (!(layers as readonly string[]).includes(layer)) return [];
  return imports.filter((target) => {
    const targetTop = target.split('/')[0] ?? '';
    // runtime/ is platform code every layer runs on (the TF.js backend); tests/ is test support.
    if (targetTop === layer || ['connectors', 'runtime', 'tests'].includes(targetTop)) return false;
    return true;
  });
}

test('the checker catches a layer reaching into another', () => {
  const file = join(root, 'service/server.ts');
  const imports = relativeImports(
    file,
    "import { trainModel } from '../model/pipeline/index.ts';\nimport { MscrError } from '../connectors/errors.ts';",
  );
  assert.deepEqual(violations('service/server.ts', imports), ['model/pipeline/index.ts']);
  assert.deepEqual(
    violations(
      'connectors/x.ts',
      relativeImports(join(root, 'connectors/x.ts'), "import '../model/a.ts';"),
    ),
    ['model/a.ts'],
  );
});

test('layers import each other only through connectors/', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const layer of layers) {
    for (const file of sourceFiles(join(root, layer))) {
      const fromRoot = relative(root, file);
      checked++;
      for (const target of violations(
        fromRoot,
        relativeImports(file, readFileSync(file, 'utf8')),
      )) {
        problems.push(`${fromRoot} imports ${target}`);
      }
    }
  }
  assert.ok(checked > 10, `expected to check the project's source files, found ${checked}`);
  assert.deepEqual(problems, []);
});
