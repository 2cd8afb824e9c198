import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/lib/database.js';
import { createScratchDatabase } from '../events/support.js';
import { startSystem } from '../support/system.js';
import { CHAOS_CONFIG, faultSchedule, runChaos, summaryLines } from './chaos.js';
import { roleProcess, startChaosServers } from './world.js';

// `npm run chaos -- --orders N --minutes M --seed S` runs this file with its own size; `npm test` runs the CI size.
// The environment is read here only to size the run.
const size = {
  seed: Number(process.env.CHAOS_SEED ?? 20261201),
  orders: Number(process.env.CHAOS_ORDERS ?? 30),
  minutes: Number(process.env.CHAOS_MINUTES ?? 2),
};

describe('chaos: random operations and faults, then the invariants', () => {
  it('plans the same faults for the same seed', () => {
    expect(faultSchedule(size.seed, size.minutes)).toEqual(faultSchedule(size.seed, size.minutes));
    expect(faultSchedule(size.seed, size.minutes)).not.toEqual(faultSchedule(size.seed + 1, size.minutes));
  });

  it(
    `keeps every invariant (seed ${size.seed}, ${size.orders} orders)`,
    async () => {
      const servers = await startChaosServers(size.seed);
      // A database of its own: its relay (publishing to its own NATS) would claim the other test files' outbox rows,
      // and its backend terminations would cut their connections.
      const database = await createScratchDatabase();
      // The relay runs as its own process, to be killed; so does one of the workers.
      const system = await startSystem({
        config: {
          ...CHAOS_CONFIG,
          DATABASE_URL: database.url,
          NATS_URL: servers.nats.url,
          TEMPORAL_ADDRESS: servers.temporalAddress,
        },
        relay: false,
        // The in-process API's warnings and errors (each 5xx with its cause) next to the worker's and relay's logs.
        logger: pino({ level: 'warn' }, pino.destination({ dest: join(ROOT, '.data', `chaos-${size.seed}-api.log`) })),
      });
      const worker = roleProcess('worker', system.config, CHAOS_CONFIG, size.seed);
      const relay = roleProcess('relay', system.config, CHAOS_CONFIG, size.seed);
      try {
        await Promise.all([worker.start(), relay.start()]);
        const [inProcessWorker] = system.workers();
        const summary = await runChaos(system, { servers, worker, relay, inProcessWorker: inProcessWorker! }, size);
        for (const line of summaryLines(summary)) console.log(line);
        expect(summary.violations).toBe(0);
      } finally {
        await Promise.all([worker.stop(), relay.stop()]);
        await system.stop();
        await servers.stop();
        await database.drop();
      }
    },
    (size.minutes + 10) * 60_000
  );
});
