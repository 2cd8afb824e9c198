import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ROOT } from '../../scripts/lib/database.js';
import { getOrderQuery } from '../../src/workflows/messages.js';
import { handle, placeOrder, untilStage } from '../saga/support.js';
import type { ActivityMap, TestSystem } from '../support/system.js';
import { createProduct, eventually, startSystem } from '../support/system.js';

/** The README's Temporal CLI examples, exactly as written, so they cannot drift from what works. */
const commands = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap(([, block]) => block!.split('\n'))
  .filter((line) => line.startsWith('npm run temporal -- '));

// The README's examples name this customer.
const CUSTOMER_ID = '9b2f6f0e-7c1a-4c55-9d0b-2a8f3c1e5d10';

describe('the README Temporal CLI examples run verbatim against a running system', () => {
  let system: TestSystem;
  let orderId: string;
  // The examples include an operator retrying a stuck compensation: releasing stock fails until repaired.
  let stockDatabaseBroken = true;
  const flaky = (real: ActivityMap): ActivityMap => ({
    ...real,
    releaseStock: async (input) => {
      if (stockDatabaseBroken) throw ApplicationFailure.retryable('inventory database is read-only', 'Unavailable');
      return real.releaseStock(input);
    },
  });

  beforeAll(async () => {
    system = await startSystem({ activities: flaky, config: { COMPENSATION_MAX_ATTEMPTS: '2' } });
    const product = await createProduct(system, 3);
    ({ orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }], { customerId: CUSTOMER_ID }));
    await untilStage(system, orderId, 'FULFILLING');
  });
  afterAll(async () => {
    await system?.stop();
  });

  /**
   * As a newcomer's shell after `npm run dev`, `export TOKEN=...` and `ORDER=...`, pointed at this test's servers.
   * Asynchronous on purpose: the CLI calls the codec server of the API running in this very process.
   */
  function run(command: string): Promise<{ status: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        'bash',
        ['-c', command],
        {
          cwd: ROOT,
          encoding: 'utf8',
          env: {
            ...process.env,
            TEMPORAL_CLI: inject('temporalCli'),
            TEMPORAL_ADDRESS: inject('temporalAddress'),
            TEMPORAL_NAMESPACE: system.config.TEMPORAL_NAMESPACE,
            PORT: String(system.api!.port),
            TOKEN: system.tokens.operator,
            ORDER: orderId,
          },
        },
        (error, stdout, stderr) => {
          const status = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ status, stdout, stderr });
        }
      );
    });
  }

  it('has the examples', () => {
    expect(commands.length).toBeGreaterThanOrEqual(5);
  });

  it('runs each example successfully, in order', async () => {
    for (const command of commands) {
      if (command.includes('retryCompensation')) {
        // The operator retries once the order is flagged and the cause is repaired.
        await eventually(async () =>
          (await handle(system, orderId).query(getOrderQuery)).needsAttention ? true : undefined
        );
        stockDatabaseBroken = false;
      }
      const result = await run(command);
      expect(result.status, `${command}\n${result.stdout}\n${result.stderr}`).toBe(0);
      if (command.includes('--type getOrder')) {
        // Decrypted through the codec server with the operator's token: the order as the workflow sees it.
        expect(result.stdout).toContain(orderId);
      }
    }
    // The README's signal cancelled it for fraud; the retried compensation let the cancellation finish.
    expect((await untilStage(system, orderId, 'CANCELLED')).cancellationReason).toBe('FRAUD');
  });
});
