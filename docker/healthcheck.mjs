#!/usr/bin/env node
/* global fetch, AbortSignal */
// The image's HEALTHCHECK: exit 0 when the Service answers its V2 liveness endpoint.
// Node 20's fetch, so the slim and CUDA images need no curl. Port from MSCR_PORT or PORT.
const port = process.env.MSCR_PORT || process.env.PORT || '8080';
const url = `http://127.0.0.1:${port}/v2/health/live`;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) {
    console.error(`healthcheck: ${url} answered ${response.status}`);
    process.exit(1);
  }
} catch (error) {
  console.error(`healthcheck: ${url}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
