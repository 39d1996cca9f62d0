import type { IncomingMessage } from 'node:http';

/**
 * Reads a request body up to `limit` bytes. Past the limit (declared by `Content-Length` or reached while streaming)
 * it stops collecting and answers `'too-large'`, so an oversized upload never sits in memory. The rest of the body
 * is drained and dropped rather than the request destroyed: the caller's 413 answer must still reach the client.
 *
 * @param req - the request
 * @param limit - the most bytes accepted
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  if (Number(req.headers['content-length'] ?? 0) > limit) {
    req.resume();
    return Promise.resolve('too-large');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // The listener stays after a refusal: it keeps the stream flowing, which drains what the client still sends.
    req.on('data', (chunk: Buffer) => {
      if (size > limit) {
        return;
      }
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        resolve('too-large');
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => {
      resolve(Buffer.concat(chunks, size));
    });
    req.on('error', reject);
    // A request torn down without an error event would otherwise leave the caller waiting for ever.
    req.on('close', () => {
      if (!req.complete) {
        reject(new Error('the request was closed before its body was complete'));
      }
    });
  });
}
