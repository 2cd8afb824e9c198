import { condition } from '@temporalio/workflow';
import { CANCELLATION_REASONS, canCancel, Stage } from '../domain/order.js';
import type { CarrierUpdates } from './carrier-updates.js';
import { messageOf, requestIdOf, StopOrder } from './failures.js';
import type { CancelOrderInput, OrderView } from './messages.js';
import type { OrderRecord } from './order-record.js';

/** The request id a workflow cancellation (Web UI "Cancel", `temporal workflow cancel`) is recorded under. */
const WORKFLOW_CANCELLATION = 'workflow-cancellation';

/**
 * Cancellation requests, from the cancelOrder update or signal and from a workflow cancellation. An accepted one is
 * honoured by the main flow at its next step boundary (`checkpoint`); the undoing itself is the saga's.
 */
export class Cancellation {
  /** The accepted request, if any: the main flow stops and compensates for it. */
  requested?: CancelOrderInput;
  /** The order is CANCELLED: every compensation ran. */
  cancelled = false;
  /** A workflow cancellation arrived after dispatch: flag it for operators once the parcel is on its way. */
  lateCancel = false;

  constructor(
    private readonly order: OrderRecord,
    private readonly carrier: CarrierUpdates
  ) {}

  refusal(request: CancelOrderInput): string | undefined {
    if (this.requested || this.cancelled) return undefined;
    const { changes, state } = this.order;
    const unknownReason = CANCELLATION_REASONS.includes(request.reason)
      ? undefined
      : `unknown cancellation reason ${request.reason}`;
    // Already being cancelled (a decline, a stock-out): the honest answer is that cancellation, once it is done.
    if (changes.honestAttention && state.stage === Stage.CANCELLING) return unknownReason;
    if (!canCancel(state.stage) || this.order.dispatching) {
      return `the order was dispatched (stage ${state.stage}); start a return instead`;
    }
    if (changes.queuedDispatchWins && this.carrier.dispatchQueued()) {
      return 'the carrier reported the parcel dispatched; start a return instead';
    }
    return unknownReason;
  }

  /** Asks the main flow to stop at its next step boundary and waits until the order is cancelled. */
  async request(request: CancelOrderInput): Promise<OrderView> {
    this.accept(request);
    await condition(() => this.cancelled || this.order.state.stage === Stage.COMPLETED);
    return this.order.view();
  }

  /** A cancellation sent as a signal: accepted (the main flow stops at its next step) or recorded as rejected. */
  bySignal(request: CancelOrderInput): void {
    try {
      const reason = this.refusal(request);
      if (reason) return this.order.reject('cancelOrder', request.requestId, reason);
      this.accept(request);
    } catch (error) {
      this.order.reject('cancelOrder', requestIdOf(request), messageOf(error));
    }
  }

  /**
   * Temporal Web UI "Cancel", `temporal workflow cancel`, `handle.cancel()`: a customer-requested cancellation
   * before dispatch; after dispatch it cannot recall the parcel, so it is recorded as rejected and flagged.
   */
  workflowCancelRequested(): void {
    const settled: Stage[] = [Stage.CANCELLING, Stage.CANCELLED, Stage.COMPLETED];
    if (this.requested || this.cancelled || settled.includes(this.order.state.stage)) return;
    const request: CancelOrderInput = { requestId: WORKFLOW_CANCELLATION, reason: 'CUSTOMER_REQUESTED' };
    const refusal = this.refusal(request);
    if (!refusal) return this.accept(request);
    this.order.reject('cancelOrder', WORKFLOW_CANCELLATION, refusal);
    this.lateCancel = true;
  }

  /** A step boundary of the main flow: an accepted cancellation stops the order here. */
  checkpoint(): void {
    if (this.requested) throw new StopOrder(this.requested.reason);
  }

  private accept(request: CancelOrderInput): void {
    if (this.requested) return;
    if (this.order.changes.honestAttention && this.order.state.stage === Stage.CANCELLING) return;
    this.requested = request;
    this.order.lastCause = request.requestId;
  }
}
