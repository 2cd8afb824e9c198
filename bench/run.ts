// npm run bench [-- --sweep 1,5,10,20,40 --backend dev|postgres ...]: the service against floors measured in the
// same run; see bench/README.md. Never part of `npm test`: timings are not assertions.
import { existsSync } from 'node:fs';
import { HELP, parseOptions, UsageError } from './cli/options.js';
import { Cleanup } from './lib/cleanup.js';
import { log } from './lib/log.js';
import { loadAverage } from './lib/proc.js';
import { report } from './report/write.js';
import { runPlan } from './scenarios/plan.js';
import { openWorld } from './setup/world.js';

const cleanup = new Cleanup();
/** Set by Ctrl-C / SIGTERM: the signal handler then owns clean-up and the exit code. */
let interrupted = false;

function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) {
    log(`${signal} again: exiting without finishing clean-up (the run's database may remain)`);
    process.exit(130);
  }
  interrupted = true;
  log(`${signal}: cleaning up (again to force)`);
  void cleanup.run().finally(() => process.exit(130));
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    process.stdout.write(HELP);
    return;
  }
  if (!existsSync('/proc/self/stat')) throw new Error('the bench reads CPU time from /proc: Linux only');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const loadAverageAtStart = loadAverage();
  try {
    const world = await openWorld(options, cleanup);
    const measured = await runPlan(world.bench);
    await report(world, measured, loadAverageAtStart);
  } finally {
    if (!interrupted) {
      log('cleaning up');
      await cleanup.run();
    }
  }
}

main().then(
  () => {
    if (!interrupted) process.exit(0);
  },
  (error: unknown) => {
    // After Ctrl-C the main flow fails on closed connections: the signal handler reports and exits.
    if (interrupted) return;
    if (error instanceof UsageError) {
      process.stderr.write(`bench: ${error.message} (npm run bench -- --help)\n`);
      process.exit(2);
    }
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  }
);
