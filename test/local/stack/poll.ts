/**
 * Polls until `check` returns a value other than undefined, or fails when the deadline passes (no fixed sleeps in
 * tests: they poll with a deadline).
 * @param check - returns the awaited value, or undefined to poll again
 * @param what - names the wait in the failure
 * @param timeoutMs - the deadline
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
