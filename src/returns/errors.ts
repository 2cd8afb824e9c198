import { Refusal } from '../domain/failures.js';

/**
 * Why a return was refused. `code` is stable: the HTTP layer maps each code to a status (src/api/errors.ts), so never
 * rename one.
 */
export type ReturnErrorCode =
  | 'RETURN_NOT_ALLOWED'
  | 'RETURN_QUANTITY_EXCEEDED'
  | 'RETURN_NOT_FOUND'
  | 'RETURN_ALREADY_SETTLED'
  | 'RETURN_UPDATE_INTERRUPTED'
  | 'ORDER_NOT_FOUND';

export abstract class ReturnError extends Refusal<ReturnErrorCode> {}

/** The order cannot be returned (now): not dispatched, nothing left to return, or the window is over. */
export class ReturnNotAllowedError extends ReturnError {
  readonly code = 'RETURN_NOT_ALLOWED' as const;
}

/** A line asks for more than was shipped minus what is already returned, or for a product not in the order. */
export class ReturnQuantityError extends ReturnError {
  readonly code = 'RETURN_QUANTITY_EXCEEDED' as const;
  constructor(readonly problems: { index: number; field: string; message: string }[]) {
    super('some items cannot be returned');
  }
}

/**
 * No such return, or no such order to return from (another customer's order reads as missing, to hide that it
 * exists).
 */
export class ReturnNotFoundError extends ReturnError {
  readonly code: 'RETURN_NOT_FOUND' | 'ORDER_NOT_FOUND';
  constructor(what: { returnId: string } | { orderId: string }) {
    super('returnId' in what ? `return ${what.returnId} was not found` : `order ${what.orderId} was not found`);
    this.code = 'returnId' in what ? 'RETURN_NOT_FOUND' : 'ORDER_NOT_FOUND';
  }
}

/** The warehouse already decided this return otherwise (received vs rejected, or another condition). */
export class ReturnAlreadySettledError extends ReturnError {
  readonly code = 'RETURN_ALREADY_SETTLED' as const;
}

/** The decision did not reach the return's workflow (it may have): the caller retries with the same key. */
export class ReturnUpdateInterruptedError extends ReturnError {
  readonly code = 'RETURN_UPDATE_INTERRUPTED' as const;
}
