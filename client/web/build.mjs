#!/usr/bin/env node
// Builds the web page's script: client/web/src/main.ts and the SDK it imports, bundled by
// esbuild into client/web/public/app.js (one ES module, no source map, not minified, so a diff
// of the committed bundle stays readable). The bundle is committed, so `npm start` and a fresh
// clone serve the page with no build step; client/web/bundle.test.ts fails when it is stale.
//
// Usage: node client/web/build.mjs          (npm run build:web)
//        node client/web/build.mjs --check  (exit 1 when public/app.js is not up to date)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const ENTRY = fileURLToPath(new URL('./src/main.ts', import.meta.url));
export const OUTPUT = fileURLToPath(new URL('./public/app.js', import.meta.url));

/**
 * The SC connector's path builders share a module with the model store's server-side code
 * (node:crypto, node:os). The page uses none of that code, and esbuild drops it, but the
 * imports must still resolve: they resolve to an empty module. The bundle test checks that
 * no `node:` import is left in the output.
 */
const nodeBuiltinsAreEmpty = {
  name: 'node-builtins-are-empty',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'empty' }));
    build.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({
      contents: 'module.exports = {};',
      loader: 'js',
    }));
  },
};

/** The bundle's text. */
export async function buildWebBundle() {
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
    write: false,
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    charset: 'utf8',
    treeShaking: true,
    logLevel: 'silent',
    plugins: [nodeBuiltinsAreEmpty],
    banner: {
      js: '// Built by client/web/build.mjs from client/web/src and client/sdk: edit those, then run npm run build:web.',
    },
  });
  return result.outputFiles[0].text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await buildWebBundle();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(OUTPUT, 'utf8');
    } catch {
      // missing: stale
    }
    if (current !== text) {
      console.error(`${OUTPUT} is not up to date with client/web/src: run npm run build:web`);
      process.exit(1);
    }
    console.log(`${OUTPUT} is up to date`);
  } else {
    writeFileSync(OUTPUT, text);
    console.log(`wrote ${OUTPUT} (${text.length} bytes)`);
  }
}
