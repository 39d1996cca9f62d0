import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { debuggerCommand } from '../../../src/local/cli/commands/debugger';
import type { CliIo } from '../../../src/local/cli/io';
import { UsageError } from '../../../src/local/cli/io';

/** An in-memory CliIo whose stop signal the test fires. */
function testIo(): CliIo & { output: () => string; errors: () => string; stop: () => void } {
  let out = '';
  let err = '';
  let stop!: () => void;
  const stopSignal = new Promise<void>((resolve) => {
    stop = resolve;
  });
  return {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    stopSignal,
    output: () => out,
    errors: () => err,
    stop,
  };
}

/** Waits until the command printed its URL (the deadline keeps a broken start from hanging the test). */
async function urlPrinted(io: { output: () => string }, deadlineMs = 20_000): Promise<string> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const match = /listening on (\S+)/.exec(io.output());
    if (match?.[1] !== undefined) {
      return match[1];
    }
    if (Date.now() > deadline) {
      throw new Error(`no URL printed; output so far: ${io.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('iomt debugger', () => {
  test('serves the page until the stop signal', async () => {
    const io = testIo();
    const exit = debuggerCommand.run(['--port', '0'], io);
    try {
      const url = await urlPrinted(io);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('IoMT mapping debugger');
    } finally {
      io.stop();
    }
    expect(await exit).toBe(0);
    expect(io.output()).toContain('Mapping debugger stopped.');
  });

  test('a port in use is reported, exit 1', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const io = testIo();
      const port = String((blocker.address() as AddressInfo).port);

      expect(await debuggerCommand.run(['--port', port], io)).toBe(1);
      expect(io.errors()).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  test.each([[['--port', 'x']], [['--port', '70000']], [['--what']], [['extra']]])(
    'rejects the arguments %j',
    async (args) => {
      await expect(debuggerCommand.run(args, testIo())).rejects.toBeInstanceOf(UsageError);
    },
  );
});
