/**
 * The embedded FHIR server in a child process, for benchmarks where the pipeline and the server should not share
 * one event loop: a real FHIR service runs elsewhere, so with it in its own process concurrent batches can overlap
 * the pipeline's work with the server's (this machine has two cores).
 *
 * Run as a script, it starts the server seeded with `argv[2]` devices and sends `{ url }` to its parent; it exits
 * when the parent disconnects.
 */
import { fork } from 'node:child_process';

import { startSeededServer } from './fhir';

/** A server in a child process. */
export interface ServerProcess {
  readonly url: string;
  /** CPU time the server process has used so far, in ms. */
  cpuMs(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts a seeded embedded FHIR server in a child process.
 * @param devices - devices whose Patient and Device are seeded
 */
export function startServerProcess(devices: number): Promise<ServerProcess> {
  const child = fork(__filename, [String(devices)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`the FHIR server process exited with ${String(code)}`));
    });
    child.once('message', (message: { url: string }) => {
      resolve({
        url: message.url,
        cpuMs: () =>
          new Promise((answer) => {
            child.once('message', (reply: { cpuMs: number }) => {
              answer(reply.cpuMs);
            });
            child.send('cpu');
          }),
        close: async () => {
          child.disconnect();
          await exited;
        },
      });
    });
  });
}

if (require.main === module && process.send !== undefined) {
  void startSeededServer(Number(process.argv[2])).then((server) => {
    process.send?.({ url: server.url });
    process.on('message', () => {
      const used = process.cpuUsage();
      process.send?.({ cpuMs: (used.user + used.system) / 1000 });
    });
    process.once('disconnect', () => {
      void server.close().then(() => process.exit(0));
    });
  });
}
