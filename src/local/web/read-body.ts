import type { IncomingMessage } from 'node:http';

/**
 * Reads a request body up to `limit` bytes. Past the limit it stops collecting (the rest is drained and dropped)
 * and answers `'too-large'`, so an oversized upload never sits in memory.
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
      resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}
