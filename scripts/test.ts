import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { generatePrismaClient, ROOT } from './lib/database.js';
import { findTemporalCli } from './lib/temporal-cli.js';

/**
 * The whole test suite: static checks (types, lint), every vitest file against real Temporal, Postgres and
 * NATS, and the failover test against the production topology. Ends with the line `N passed, N failed` and exits non-zero if anything failed.
 */
const checks: { name: string; ok: boolean }[] = [];
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

function check(name: string, command: string, args: string[]) {
  process.stdout.write(`\n== ${name}: ${command} ${args.join(' ')}\n`);
  const run = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' });
  checks.push({ name, ok: run.status === 0 });
}

findTemporalCli();
generatePrismaClient();
check('typecheck', bin('tsc'), ['--noEmit', '-p', '.']);
check('lint', bin('eslint'), ['.']);
check('format', bin('prettier'), ['--check', '.']);
// Imports point down (domain <- infrastructure <- contexts <- adapters), never across or in a cycle.
check('dependencies', bin('depcruise'), ['src', '--config', '.dependency-cruiser.cjs']);

const results = join(ROOT, '.data', 'vitest-results.json');
mkdirSync(join(ROOT, '.data'), { recursive: true });
rmSync(results, { force: true });
const vitest = spawnSync(
  bin('vitest'),
  ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...process.argv.slice(2)],
  {
    cwd: ROOT,
    stdio: 'inherit',
  }
);

// The production topology under faults (README "Running at scale"): its own databases, streams and free ports.
check('failover', bin('tsx'), [join(ROOT, 'scripts', 'failover.ts')]);

let passed = checks.filter((c) => c.ok).length;
let failed = checks.filter((c) => !c.ok).length;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(results, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    success: boolean;
  };
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  // A file that failed to load has no tests to count: make sure it still fails the run.
  if (!report.success && report.numFailedTests === 0) failed += 1;
} catch {
  failed += 1;
  process.stdout.write('vitest wrote no results: counting the run as failed\n');
}
if (vitest.status !== 0 && failed === 0) failed += 1;
for (const c of checks.filter((c) => !c.ok)) process.stdout.write(`check failed: ${c.name}\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 ? 1 : 0);
