import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep } from './log.js';
import type { DriverReply, DriverRequest, FloorRun, RunResult, ServiceRun } from './protocol.js';

/** The load driver (driver.ts), a child process so that its CPU is not counted as the service's. */
export class Driver {
  private readonly waiting: { resolve: (reply: DriverReply) => void; reject: (error: Error) => void }[] = [];

  constructor(readonly child: ChildProcess) {
    child.on('message', (reply: DriverReply) => {
      const next = this.waiting.shift();
      if (!next) return;
      if (reply.type === 'error') next.reject(new Error(`driver: ${reply.message}`));
      else next.resolve(reply);
    });
    child.on('exit', (code, signal) => {
      for (const next of this.waiting.splice(0)) next.reject(new Error(`driver exited (${code ?? signal})`));
    });
  }

  static start(): Driver {
    const path = fileURLToPath(new URL('./driver.ts', import.meta.url));
    // fork() reuses this process's execArgv, i.e. tsx's loader: the driver runs from TypeScript too.
    return new Driver(fork(path, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  request(message: DriverRequest): Promise<DriverReply> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.send(message);
    });
  }

  async run(message: FloorRun | ServiceRun): Promise<RunResult> {
    const reply = await this.request(message);
    if (reply.type !== 'result') throw new Error(`driver answered ${reply.type}`);
    return reply.result;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await Promise.race([this.request({ type: 'close' }), sleep(5_000)]).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    if (this.child.connected) this.child.disconnect();
    await exited;
    clearTimeout(timer);
  }
}
