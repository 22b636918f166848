/**
 * The web page: a folder of static files served at `/` with `express.static`, for GET and HEAD
 * of paths outside the API only (an API path never touches the file system, and a file can
 * never shadow an endpoint). No directory listings, no dotfiles; HTML is revalidated on every
 * load, other files are cached for five minutes. A path with no file falls through to the
 * API's JSON 404.
 */
import path from 'node:path';
import express, { type RequestHandler } from 'express';

const API_PATH = /^\/(v1|v2|mscr|metrics)(\/|$)/;

/**
 * The page loads only its own script (no inline script, no eval), talks only to this origin,
 * shows images it made itself (blob: previews) and cannot be framed (clickjacking the
 * feedback or retrain forms). Inline styles stay allowed: the chart's SVG uses them.
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function serveStatic(root: string): RequestHandler {
  const files = express.static(path.resolve(root), {
    dotfiles: 'ignore',
    index: 'index.html',
    fallthrough: true,
    redirect: true,
    etag: true,
    lastModified: true,
    setHeaders: (res, file) => {
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Content-Security-Policy', PAGE_CSP);
      res.setHeader('X-Frame-Options', 'DENY');
      res.setHeader('Cache-Control', file.endsWith('.html') ? 'no-cache' : 'public, max-age=300');
    },
  });
  return (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || API_PATH.test(req.path)) {
      next();
      return;
    }
    files(req, res, next);
  };
}
