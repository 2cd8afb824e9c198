import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { WriteStream } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * Stops what a script has started so far, newest first, on Ctrl-C, SIGTERM or a start-up failure: an interrupted
 * start-up leaves nothing behind either. A second Ctrl-C exits at once.
 */
export function shutdownOnSignals(): {
  defer: (stop: () => Promise<unknown>) => void;
  shutdown: (code: number) => Promise<void>;
} {
  const stops: (() => Promise<unknown>)[] = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) process.exit(130);
    stopping = true;
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  return { defer: (stop) => stops.push(stop), shutdown };
}

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Output of every incarnation is appended here. */
  logFile: string;
  /** Ready when a line of its output matches, or when the probe resolves true (polled). */
  ready: RegExp | (() => Promise<boolean>);
  readyTimeoutMs?: number;
}

/** One supervised OS process that can be killed and started again (same command, same ports). */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Starts it and waits until it is ready. */
  start(): Promise<void>;
  /** Sends `signal` and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Called when it exits without having been asked to. */
  onUnexpectedExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}

const START_ATTEMPTS = 5;

export class ProcessStartError extends Error {
  readonly code = 'PROCESS_START_FAILED';
  constructor(
    name: string,
    detail: string,
    logFile: string,
    /** It exited (rather than hanging): worth another try. */
    readonly exited = false
  ) {
    super(`${name} ${detail}; see ${logFile}`);
    this.name = 'ProcessStartError';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function managedProcess(spec: ProcessSpec): ManagedProcess {
  let child: ChildProcess | undefined;
  let log: WriteStream | undefined;
  let expectingExit = false;
  const listeners: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
  const isRunning = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  /** Resolves once `started` is ready; kills it and throws if it exits or times out first. */
  const waitReady = async (started: ChildProcess) => {
    const timeoutMs = spec.readyTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    let ready = false;
    if (spec.ready instanceof RegExp) {
      const pattern = spec.ready;
      for (const stream of [started.stdout, started.stderr]) {
        const lines = stream && createInterface({ input: stream });
        lines?.on('line', (line) => {
          if (!pattern.test(line)) return;
          ready = true;
          lines.close();
        });
      }
    }
    const probe = spec.ready instanceof RegExp ? undefined : spec.ready;
    for (;;) {
      if (probe) ready = await probe().catch(() => false);
      if (ready) return;
      if (started.exitCode !== null || started.signalCode !== null) {
        throw new ProcessStartError(
          spec.name,
          `exited during start-up (${started.exitCode ?? started.signalCode})`,
          spec.logFile,
          true
        );
      }
      if (Date.now() > deadline) {
        started.kill('SIGKILL');
        throw new ProcessStartError(spec.name, `was not ready within ${timeoutMs} ms`, spec.logFile);
      }
      await sleep(probe ? 250 : 50);
    }
  };

  const handle: ManagedProcess = {
    name: spec.name,
    get pid() {
      return child?.pid;
    },
    get running() {
      return isRunning();
    },
    async start() {
      // Like a restart policy: a process that exits during start-up (a dependency not answering yet) is tried again.
      for (let attempt = 1; ; attempt += 1) {
        if (isRunning()) return;
        log ??= createWriteStream(spec.logFile, { flags: 'a' });
        expectingExit = false;
        const started = spawn(spec.command, spec.args, {
          cwd: spec.cwd,
          env: spec.env ?? process.env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child = started;
        started.stdout?.pipe(log, { end: false });
        started.stderr?.pipe(log, { end: false });
        let up = false;
        // Only an exit after start-up is unexpected: during start-up the loop here deals with it.
        started.on('exit', (code, signal) => {
          if (up && !expectingExit && child === started) for (const listener of listeners) listener(code, signal);
        });
        try {
          await waitReady(started);
          up = true;
          return;
        } catch (error) {
          if (!(error instanceof ProcessStartError) || !error.exited || attempt >= START_ATTEMPTS) throw error;
          await sleep(2_000);
        }
      }
    },
    async kill(signal) {
      const current = child;
      if (!current || !isRunning()) return;
      expectingExit = true;
      const exited = once(current, 'exit');
      current.kill(signal);
      await exited;
    },
    async stop(graceMs = 10_000) {
      const current = child;
      if (current && isRunning()) {
        const timer = setTimeout(() => current.kill('SIGKILL'), graceMs);
        await handle.kill('SIGTERM');
        clearTimeout(timer);
      }
      log?.end();
      log = undefined;
    },
    onUnexpectedExit(listener) {
      listeners.push(listener);
    },
  };
  return handle;
}
