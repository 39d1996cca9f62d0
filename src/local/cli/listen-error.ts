const LISTEN_ERRORS: ReadonlySet<string> = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL']);

/**
 * The code of an error that says a server could not bind its address (in use, not allowed, no such interface), or
 * undefined for any other error.
 *
 * @param error - what starting a server threw
 */
export function listenErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && LISTEN_ERRORS.has(code) ? code : undefined;
}
