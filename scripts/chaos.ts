import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './lib/database.js';

/**
 * `npm run chaos -- --orders N [--minutes M] --seed S`: the chaos suite (test/chaos) at the size asked, against the
 * same isolated servers as the tests. Prints each invariant with its violations and one `chaos:` line; exits
 * non-zero on any violation.
 */
const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '100' },
    minutes: { type: 'string' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
  },
});
for (const [name, value] of Object.entries(values)) {
  if (value !== undefined && !/^\d+$/.test(value)) throw new Error(`--${name} must be a whole number, got ${value}`);
}
// Long enough for the operations a run asks for (every order placed, then four operations per order) at the pace a
// loaded 2-core machine keeps; the operations phase ends earlier when they are done.
const minutes = values.minutes ?? String(Math.max(5, Math.ceil(Number(values.orders) / 40)));
const run = spawnSync(join(ROOT, 'node_modules', '.bin', 'vitest'), ['run', 'test/chaos/chaos.test.ts'], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, CHAOS_ORDERS: values.orders, CHAOS_MINUTES: minutes, CHAOS_SEED: values.seed },
});
process.exit(run.status ?? 1);
