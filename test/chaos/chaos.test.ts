import { describe, expect, it } from 'vitest';
import { startSystem } from '../support/system.js';
import { CHAOS_CONFIG, runChaos, summaryLines } from './chaos.js';

// `npm run chaos -- --orders N --minutes M --seed S` runs this file with its own size; `npm test` runs the CI size.
// The environment is read here only to size the run.
const size = {
  seed: Number(process.env.CHAOS_SEED ?? 20261201),
  orders: Number(process.env.CHAOS_ORDERS ?? 30),
  minutes: Number(process.env.CHAOS_MINUTES ?? 2),
};

describe('chaos: random operations and faults, then the invariants', () => {
  it(
    `keeps every invariant (seed ${size.seed}, ${size.orders} orders)`,
    async () => {
      const system = await startSystem({ config: CHAOS_CONFIG });
      try {
        const summary = await runChaos(system, size);
        for (const line of summaryLines(summary)) console.log(line);
        expect(summary.violations).toBe(0);
      } finally {
        await system.stop();
      }
    },
    (size.minutes + 5) * 60_000
  );
});
