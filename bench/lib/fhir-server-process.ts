/**
 * The embedded FHIR server in a child process, for benchmarks where the pipeline and the server should not share
 * one event loop: a real FHIR service runs elsewhere, so with it in its own process concurrent batches can overlap
 * the pipeline's work with the server's (this machine has two cores).
 *
 * Run as a script, it starts the server seeded with `argv[2]` devices and sends `{ type: 'ready', url }` to its
 * parent; it answers `cpu` (its CPU time so far) and `reset` (a fresh seeded server in the same process, so the
 * server's code stays compiled by the JIT as it would in a long-running service), and exits when the parent
 * disconnects.
 */
import { fork } from 'node:child_process';

import type { EmbeddedFhirServer } from '../../src/local/fhir-server';
import { startSeededServer } from './fhir';

/** A server in a child process. */
export interface ServerProcess {
  /** The server's base URL (a reset moves it to a new port). */
  readonly url: string;
  /** CPU time the server process has used so far, in ms. */
  cpuMs(): Promise<number>;
  /** Replaces the server by a freshly seeded one in the same process (its data gone, its JIT state kept). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

type Request = { readonly type: 'cpu' } | { readonly type: 'reset' };
type Reply =
  | { readonly type: 'ready'; readonly url: string }
  | { readonly type: 'cpu'; readonly cpuMs: number }
  | { readonly type: 'reset'; readonly url: string };

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
  // One request at a time: callers await each answer before asking again.
  const ask = <T extends Reply['type']>(request: Request, type: T): Promise<Extract<Reply, { type: T }>> =>
    new Promise((answer, fail) => {
      const onMessage = (reply: Reply): void => {
        if (reply.type === type) {
          child.off('message', onMessage);
          answer(reply as Extract<Reply, { type: T }>);
        }
      };
      child.on('message', onMessage);
      child.send(request, (error) => {
        if (error !== null) {
          child.off('message', onMessage);
          fail(error);
        }
      });
    });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`the FHIR server process exited with ${String(code)}`));
    });
    child.once('message', (ready: Reply) => {
      let url = ready.type === 'ready' ? ready.url : '';
      resolve({
        get url() {
          return url;
        },
        cpuMs: async () => (await ask({ type: 'cpu' }, 'cpu')).cpuMs,
        reset: async () => {
          url = (await ask({ type: 'reset' }, 'reset')).url;
        },
        close: async () => {
          child.disconnect();
          await exited;
        },
      });
    });
  });
}

if (require.main === module && process.send !== undefined) {
  const devices = Number(process.argv[2]);
  void startSeededServer(devices).then((first) => {
    let server: EmbeddedFhirServer = first;
    process.send?.({ type: 'ready', url: server.url } satisfies Reply);
    process.on('message', (request: Request) => {
      if (request.type === 'cpu') {
        const used = process.cpuUsage();
        process.send?.({ type: 'cpu', cpuMs: (used.user + used.system) / 1000 } satisfies Reply);
      } else {
        void server
          .close()
          .then(() => startSeededServer(devices))
          .then((fresh) => {
            server = fresh;
            process.send?.({ type: 'reset', url: server.url } satisfies Reply);
          });
      }
    });
    process.once('disconnect', () => {
      void server.close().then(() => process.exit(0));
    });
  });
}
