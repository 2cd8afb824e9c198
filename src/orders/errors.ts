import { Refusal } from '../domain/failures.js';
import type { PricingProblem } from './pricing.js';

/**
 * Why a command or query on orders was refused. `code` is stable: adapters switch on it (the HTTP layer maps each
 * code to a status in src/api/errors.ts), so never rename one.
 */
export const OrderErrorCode = {
  ORDER_NOT_FOUND: 'ORDER_NOT_FOUND',
  SHIPMENT_NOT_FOUND: 'SHIPMENT_NOT_FOUND',
  NOT_PERMITTED: 'NOT_PERMITTED',
  LINES_NOT_ORDERABLE: 'LINES_NOT_ORDERABLE',
  ORDER_TOTAL_TOO_LARGE: 'ORDER_TOTAL_TOO_LARGE',
  AMEND_REFUSED: 'AMEND_REFUSED',
  CANCEL_REFUSED: 'CANCEL_REFUSED',
  ORDER_FINISHED: 'ORDER_FINISHED',
  UPDATE_INTERRUPTED: 'UPDATE_INTERRUPTED',
} as const;
export type OrderErrorCode = (typeof OrderErrorCode)[keyof typeof OrderErrorCode];

export abstract class OrderError extends Refusal<OrderErrorCode> {}

/** No such order, or one the caller may not see (a foreign order is reported as missing to hide it exists). */
export class OrderNotFoundError extends OrderError {
  readonly code = OrderErrorCode.ORDER_NOT_FOUND;
  constructor(readonly orderId: string) {
    super(`order ${orderId} was not found`);
  }
}

export class ShipmentNotFoundError extends OrderError {
  readonly code = OrderErrorCode.SHIPMENT_NOT_FOUND;
  constructor(readonly shipmentId: string) {
    super(`shipment ${shipmentId} was not found`);
  }
}

/** The caller's role does not allow this on this order (a customer acting for someone else, or for a reason of staff). */
export class NotPermittedError extends OrderError {
  readonly code = OrderErrorCode.NOT_PERMITTED;
}

/** Lines the catalog cannot price as asked: unknown products, another currency, a price that changed. */
export class LinesNotOrderableError extends OrderError {
  readonly code = OrderErrorCode.LINES_NOT_ORDERABLE;
  constructor(readonly problems: readonly PricingProblem[]) {
    super('some items cannot be ordered');
  }
}

export class OrderTotalTooLargeError extends OrderError {
  readonly code = OrderErrorCode.ORDER_TOTAL_TOO_LARGE;
  constructor(
    readonly total: number,
    readonly maximum: number
  ) {
    super('the order total is too large');
  }
}

/** The order refused the amendment (too late, stock or payment said no), or its workflow is over. Final. */
export class AmendRefusedError extends OrderError {
  readonly code = OrderErrorCode.AMEND_REFUSED;
}

/** The order refused the cancellation (already dispatched), or its workflow is over. Final. */
export class CancelRefusedError extends OrderError {
  readonly code = OrderErrorCode.CANCEL_REFUSED;
}

/** A carrier update for an order whose workflow has closed: nothing is left to change. */
export class OrderFinishedError extends OrderError {
  readonly code = OrderErrorCode.ORDER_FINISHED;
  constructor(readonly orderId: string) {
    super('the order is already finished');
  }
}

/**
 * An amendment or cancellation that failed without the order's verdict (timed out, cancelled on the way): retrying
 * the same operation may succeed, so it is not final.
 */
export class UpdateInterruptedError extends OrderError {
  readonly code = OrderErrorCode.UPDATE_INTERRUPTED;
  constructor(
    readonly orderId: string,
    options?: { cause: unknown }
  ) {
    super(`the change to order ${orderId} did not complete; retry it`, options);
  }
}
