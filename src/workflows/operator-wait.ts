import { condition, log } from '@temporalio/workflow';
import type { OrderView } from './messages.js';
import type { OrderRecord } from './order-record.js';

/**
 * Work that exhausted its retries (a compensation, the void of a replacement authorization) is never swallowed:
 * the order is flagged and waits for an operator's retryCompensation, then the work is tried again.
 */
export class OperatorWait {
  private retries = 0;

  constructor(private readonly order: OrderRecord) {}

  /** An operator said "try again" (the retryCompensation update or signal). */
  retry(): OrderView {
    this.retries += 1;
    return this.order.view();
  }

  /** `name` exhausted its retries: flag the order and wait for an operator to say "try again". */
  async waitFor(name: string, error: unknown): Promise<void> {
    log.error('compensation keeps failing; waiting for an operator', { compensation: name, error: String(error) });
    const retriesBefore = this.retries;
    await this.order.flagAttention(
      `compensation ${name} failed: ${error instanceof Error ? error.message : String(error)}`
    );
    await condition(() => this.retries > retriesBefore);
  }

  /** Retries `work` until it succeeds, waiting for an operator each time it exhausts its attempts. */
  async untilDone(name: string, work: () => Promise<void>): Promise<void> {
    let flagged = false;
    for (;;) {
      try {
        await work();
        if (flagged) await this.order.clearAttention();
        return;
      } catch (error) {
        flagged = true;
        await this.waitFor(name, error);
      }
    }
  }
}
