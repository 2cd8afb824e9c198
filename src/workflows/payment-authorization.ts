import { failureType, StopOrder } from './failures.js';
import type { OperatorWait } from './operator-wait.js';
import type { OrderRecord } from './order-record.js';

/**
 * The card hold behind an order: authorized at checkout, replaced for a new total or before it expires, and undone
 * (voided, or refunded once captured) by the saga. Every gateway call carries an idempotency key of the order's.
 */
export class PaymentAuthorization {
  private authorizations = 0;

  constructor(
    private readonly order: OrderRecord,
    private readonly operator: OperatorWait
  ) {}

  /** The fields of a payment step keyed `key` within the order (`capture:<id>`, `void:<id>`, ...). */
  step(key: string, amount: number) {
    const { input } = this.order;
    return {
      ...this.order.next(),
      idempotencyKey: `${input.orderId}:${key}`,
      customerId: input.customerId,
      amount,
      currency: input.currency,
      method: input.payment.method,
    };
  }

  async authorize(amount: number): Promise<void> {
    const authorization = await this.newAuthorization(amount);
    const { state } = this.order;
    state.payment = { ...authorization, amount, reauthorized: state.payment?.reauthorized ?? false };
  }

  /**
   * Replaces the authorization with a fresh one for `amount`; the old one is voided only once the new one holds.
   * With `payment-after-money-moved` the order's payment changes only once the old hold is voided: if that void
   * fails, the old hold stays the order's and the fresh one is voided (an operator is asked if even that fails).
   */
  async reauthorize(amount: number): Promise<void> {
    const previous = this.order.state.payment!;
    if (!this.order.changes.paymentAfterMoneyMoved) {
      await this.authorize(amount);
      await this.void(previous.paymentId, previous.amount);
      return;
    }
    const fresh = await this.newAuthorization(amount);
    try {
      await this.void(previous.paymentId, previous.amount);
    } catch (error) {
      await this.operator.untilDone('void-replacement-authorization', () => this.void(fresh.paymentId, amount));
      throw error;
    }
    this.order.state.payment = { ...fresh, amount, reauthorized: previous.reauthorized };
  }

  /** The hold nears its expiry: renewed once; a second expiry (or a refused renewal) fails the order. */
  async renew(): Promise<void> {
    const { state } = this.order;
    if (state.payment!.reauthorized) throw new StopOrder('PAYMENT_FAILED');
    try {
      await this.reauthorize(state.payment!.amount);
    } catch (error) {
      if (failureType(error) === undefined) throw error;
      throw new StopOrder('PAYMENT_FAILED');
    }
    state.payment!.reauthorized = true;
  }

  /** The saga's compensation: refund a capture, void a hold; idempotent, and a no-op when nothing was authorized. */
  async restore(): Promise<void> {
    const { state } = this.order;
    const payment = state.payment;
    if (!payment) return;
    if (payment.captureId) {
      await this.order.activities.compensating.refundPayment({
        ...this.step(`refund:${payment.captureId}`, payment.amount),
        targetPaymentId: payment.captureId,
      });
    } else {
      await this.void(payment.paymentId, payment.amount);
    }
    state.payment = undefined;
  }

  private async newAuthorization(amount: number) {
    this.authorizations += 1;
    const { input } = this.order;
    return this.order.activities.payments.authorizePayment({
      ...this.step(`authorize:${this.authorizations}`, amount),
      token: input.payment.token,
      holdMs: input.timings.authorizationHoldMs,
    });
  }

  private async void(paymentId: string, amount: number): Promise<void> {
    await this.order.activities.compensating.voidPayment({
      ...this.step(`void:${paymentId}`, amount),
      targetPaymentId: paymentId,
    });
  }
}
