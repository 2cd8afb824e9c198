import { log } from '@temporalio/workflow';
import type { OrderLine } from '../domain/order.js';
import { orderTotal, Stage, statusOf } from '../domain/order.js';
import type { ActivityProxy, RunActivities } from './activity-proxies.js';
import { bookkeeping, notifications, runActivities } from './activity-proxies.js';
import type { WorkflowChanges } from './changes.js';
import { messageOf, retriesExhausted } from './failures.js';
import { Lock } from './lock.js';
import type { OrderView, OrderWorkflowInput, RejectedRequest } from './messages.js';
import { publishProgress } from './progress.js';

/** How many rejected requests and amendment outcomes an order remembers (history and queries stay bounded). */
export const REMEMBERED = 20;

function remember<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > REMEMBERED) list.splice(0, list.length - REMEMBERED);
}

/**
 * The order as its workflow holds it, and the moves every part of the saga makes on it: numbered steps, stage
 * transitions, attention flags, forward steps, customer notices and rejected requests. The main flow and the
 * message handlers share this one record, each step under its lock.
 */
export class OrderRecord {
  /** Held around every step, so an amendment, a cancellation and a saga step never interleave half-way. */
  readonly lock = new Lock();
  readonly state: OrderView;
  readonly activities: RunActivities;
  /** The request the next steps are caused by: the placing command, then an accepted cancellation or amendment. */
  lastCause: string;
  /** From the capture on the parcel has left: a cancellation arriving now is answered "start a return". */
  dispatching = false;
  /** A restock notice (or an amendment) arrived: a backordered order tries to hold its stock again. */
  restockNoticed = false;
  private seq = 1;

  constructor(
    readonly input: OrderWorkflowInput,
    readonly changes: WorkflowChanges
  ) {
    this.lastCause = input.causationId;
    this.activities = runActivities(changes, input.timings.compensationMaxAttempts);
    this.state = {
      orderId: input.orderId,
      customerId: input.customerId,
      stage: Stage.PENDING,
      status: statusOf(Stage.PENDING),
      revision: 1,
      currency: input.currency,
      lines: input.lines,
      totalAmount: orderTotal(input.lines),
      heldStock: {},
      needsAttention: false,
      rejectedRequests: [],
    };
  }

  view(): OrderView {
    // A copy, so a caller never holds a reference into live workflow state.
    return JSON.parse(JSON.stringify(this.state)) as OrderView;
  }

  noticeRestock(): void {
    this.restockNoticed = true;
  }

  /** The fields of the next step: its number fences out any late activity of an earlier one. */
  next() {
    this.seq += 1;
    return { orderId: this.input.orderId, seq: this.seq, ...this.cause() };
  }

  cause() {
    return { causationId: this.lastCause, ...(this.input.traceparent ? { traceparent: this.input.traceparent } : {}) };
  }

  /** The catalog's hold applies until confirmation; a confirmed order (amended or not) keeps its stock until dispatch. */
  reservationHold(): number | null {
    const confirmed = this.state.stage === Stage.CONFIRMED || this.state.stage === Stage.FULFILLING;
    return confirmed ? null : this.input.timings.reservationHoldMs;
  }

  /**
   * Runs a forward step. With `forward-steps-flagged` it gets COMPENSATION_MAX_ATTEMPTS tries; if they all fail the
   * order is flagged NeedsAttention (a capture the gateway keeps refusing, a database that stays down) and the step
   * keeps retrying without limit, clearing the flag once it succeeds. `call` must reuse one input (one step seq).
   */
  async forward<T>(name: string, call: (activities: ActivityProxy) => Promise<T>): Promise<T> {
    if (!this.changes.forwardStepsFlagged) return call(this.activities.unboundedSteps);
    try {
      return await call(this.activities.boundedSteps);
    } catch (error) {
      if (!retriesExhausted(error)) throw error;
      const reason = `${name} keeps failing, still retrying: ${messageOf(error)}`;
      log.error('a forward step keeps failing', { step: name, error: messageOf(error) });
      await this.flagAttention(reason, this.changes.flagKeepsStepFence);
      const result = await call(this.activities.unboundedSteps);
      if (this.state.attentionReason === reason) await this.clearAttention();
      return result;
    }
  }

  /** Holds the stock for `lines` in place of what the order holds now; `holdMs` null holds it until dispatch. */
  async holdStock(lines: OrderLine[], holdMs: number | null): Promise<void> {
    const hold = { ...this.next(), lines, holdMs, ...(this.changes.splitFulfilment ? { split: true } : {}) };
    this.state.heldStock = await this.forward('holdStock', (a) => a.holdStock(hold));
  }

  async transition(stage: Stage, reason?: string): Promise<void> {
    await bookkeeping.recordStage({ ...this.next(), to: stage, ...(reason ? { reason } : {}) });
    this.setStage(stage);
  }

  /** The order's search attributes and details in the Web UI, after a change to the state. */
  showProgress(): void {
    publishProgress(this.state, this.changes.upsertChangesOnly);
  }

  setStage(stage: Stage): void {
    this.state.stage = stage;
    this.state.status = statusOf(stage);
    this.showProgress();
  }

  async flagAttention(reason: string, pendingStep = false): Promise<void> {
    // A step that keeps failing is flagged under its own number (the caller numbered it under the lock just before),
    // so that its retry keeps its place in the sequence; any other flag is a step of its own.
    const numbered = pendingStep
      ? { orderId: this.input.orderId, seq: this.seq, ...this.cause(), whilePending: true }
      : this.next();
    await this.activities.unboundedSteps.setNeedsAttention({ ...numbered, needsAttention: true, reason });
    this.state.needsAttention = true;
    this.state.attentionReason = reason;
    this.showProgress();
  }

  async clearAttention(): Promise<void> {
    await this.activities.unboundedSteps.setNeedsAttention({ ...this.next(), needsAttention: false });
    this.state.needsAttention = false;
    this.state.attentionReason = undefined;
    this.showProgress();
  }

  async notifyCustomer(template: 'order-confirmed' | 'order-cancelled' | 'order-shipped' | 'order-delivered') {
    try {
      await notifications.notifyCustomer({
        orderId: this.input.orderId,
        customerId: this.input.customerId,
        template,
        idempotencyKey: `${this.input.orderId}:${template}:r${this.state.revision}`,
        ...this.cause(),
      });
    } catch (error) {
      log.warn('notification failed; the order goes on', { template, error: String(error) });
    }
  }

  reject(kind: RejectedRequest['kind'], requestId: string, reason: string): void {
    log.warn('request rejected', { kind, requestId, reason });
    if (this.changes.honestAttention) remember(this.state.rejectedRequests, { kind, requestId, reason });
    else this.state.rejectedRequests.push({ kind, requestId, reason });
  }
}
