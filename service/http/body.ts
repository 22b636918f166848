/** Request bodies: read once with a size limit, then decoded per route (JSON, image, CSV). */
import Busboy from 'busboy';
import { MscrError } from '../../connectors/errors.ts';

export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0)
    throw new MscrError('bad_request', 'the request body is empty: send a JSON object');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new MscrError(
      'bad_request',
      `the request body is not valid JSON: ${(error as Error).message}`,
    );
  }
}

/**
 * The image of a classify request: the raw body, or with `multipart/form-data` (an HTML form,
 * `curl -F image=@cat.jpg`) the first file part.
 */
export async function imageFromBody(
  body: Buffer,
  contentType: string | undefined,
): Promise<{ bytes: Uint8Array; name?: string }> {
  if (!contentType?.toLowerCase().startsWith('multipart/form-data')) return { bytes: body };
  return new Promise((resolve, reject) => {
    // Busboy reports a malformed body on the parser *and* on the open file stream; a stream
    // 'error' with no listener would be thrown by Node and end the process (a 76-byte body
    // ending inside a file part did exactly that), so every stream gets a listener and the
    // first problem settles the promise.
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      reject(new MscrError('bad_request', message));
    };
    const malformed = (error: unknown) =>
      fail(`malformed multipart request: ${(error as Error).message}`);
    let parser: Busboy.Busboy;
    try {
      parser = Busboy({
        headers: { 'content-type': contentType },
        limits: { files: 1, fields: 20, parts: 21, headerPairs: 20 },
      });
    } catch (error) {
      malformed(error);
      return;
    }
    let found: { bytes: Uint8Array; name: string } | undefined;
    parser.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('error', malformed);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        found ??= {
          bytes: Buffer.concat(chunks),
          name: `file ${JSON.stringify((info.filename ?? field).slice(0, 64))}`,
        };
      });
    });
    parser.on('error', malformed);
    parser.on('close', () => {
      if (settled) return;
      if (found) {
        settled = true;
        resolve(found);
        return;
      }
      fail(
        'the multipart request has no file part: send the image as a file field, e.g. curl -F image=@cat.jpg',
      );
    });
    parser.end(body);
  });
}
