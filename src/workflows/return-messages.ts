import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ReturnCondition, ReturnDecision, ReturnLine, ReturnStatus } from '../domain/returns.js';
import type { OperatorRetryInput } from './messages.js';

/** The ReturnWorkflow's public contract; the API imports this module, never the workflow code. */

export const RETURN_WORKFLOW_TYPE = 'ReturnWorkflow';
export const returnWorkflowId = (returnId: string) => `return-${returnId}`;

export interface ReturnWorkflowInput {
  returnId: string;
  orderId: string;
  customerId: string;
  currency: string;
  paymentMethod: string;
  /** Our payment id of the order's capture: the refund follows it. */
  captureId: string;
  lines: ReturnLine[];
  refundAmount: number;
  /** COMPENSATION_MAX_ATTEMPTS: a refund that fails this often flags NeedsAttention and waits for an operator. */
  maxAttempts: number;
  causationId: string;
  traceparent?: string;
}

export interface SettleReturnInput {
  requestId: string;
  status: ReturnDecision;
  condition?: ReturnCondition;
}

export interface ReturnView {
  returnId: string;
  orderId: string;
  status: ReturnStatus;
  condition?: ReturnCondition;
  refundAmount: number;
  refundedAmount: number;
  needsAttention: boolean;
  attentionReason?: string;
}

/** The warehouse's decision: an Update for the API (refused when it contradicts an earlier one), a Signal for operators. */
export const settleReturnUpdate = defineUpdate<ReturnView, [SettleReturnInput]>('settleReturn');
export const settleReturnSignal = defineSignal<[SettleReturnInput]>('settleReturn');
/** Same names as the order's, so operators retry a stuck refund the way they retry a stuck compensation. */
export const retryReturnUpdate = defineUpdate<ReturnView, [OperatorRetryInput]>('retryCompensation');
export const retryReturnSignal = defineSignal<[OperatorRetryInput]>('retryCompensation');
export const getReturnQuery = defineQuery<ReturnView>('getReturn');
