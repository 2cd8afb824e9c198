import { performance } from 'node:perf_hooks';

const began = performance.now();

/** Progress on stderr, stamped with the seconds since the run began; stdout is kept for the report. */
export function log(line: string): void {
  process.stderr.write(`[bench ${((performance.now() - began) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
}

export function startedAt(): string {
  return new Date(Date.now() - (performance.now() - began)).toISOString();
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
