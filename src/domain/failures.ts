/**
 * Failure types activities raise. Their `type` strings are what retry policies and the workflow match on,
 * so they are part of the contract: never rename one.
 */
export const ActivityErrorType = {
  OutOfStock: 'OutOfStock',
  UnknownProduct: 'UnknownProduct',
  /** An amendment names a product priced in another currency than the order's. */
  CurrencyMismatch: 'CurrencyMismatch',
  /** An amendment whose new total is above MAX_ORDER_TOTAL: the same cap as the API's for placing and amending. */
  OrderTotalTooLarge: 'OrderTotalTooLarge',
  PaymentDeclined: 'PaymentDeclined',
  PaymentGatewayUnavailable: 'PaymentGatewayUnavailable',
  OrderNotFound: 'OrderNotFound',
  ReservationExpired: 'ReservationExpired',
  NotificationFailed: 'NotificationFailed',
} as const;
export type ActivityErrorType = (typeof ActivityErrorType)[keyof typeof ActivityErrorType];

export interface OutOfStockDetails {
  productId: string;
  sku: string;
  requested: number;
  available: number;
}

export interface PaymentDeclinedDetails {
  code: string;
  message: string;
}

/**
 * A refusal by a bounded context, named by a stable `code` that adapters switch on (the HTTP layer maps each to a
 * status), so a code is never renamed.
 */
export abstract class Refusal<Code extends string = string> extends Error {
  abstract readonly code: Code;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
