import type { ReturnCommands } from '../../returns/commands.js';
import { toReturnDto } from '../order-dto.js';
import type { RouteEnv } from '../route.js';
import { resource } from '../route.js';
import {
  OrderIdParams,
  Problem,
  Return,
  ReturnCreate,
  ReturnIdParams,
  ReturnList,
  ReturnStatusUpdate,
} from '../schemas.js';
import { context } from './orders.js';

/** Returns after dispatch (the catalog's cancellation policy: "start a return"). */
export function returnRoutes(routes: RouteEnv, returns: ReturnCommands): void {
  const ofOrder = resource(routes, {
    tags: ['returns'],
    roles: ['customer', 'operator'],
    params: OrderIdParams,
    responses: { 404: { description: 'No such order (or not yours)', schema: Problem } },
  });
  const decisions = resource(routes, { tags: ['returns'], roles: ['service', 'operator'] });

  ofOrder.post('/orders/:orderId/returns', {
    operationId: 'RequestReturn',
    summary: 'Start a return of part or all of a dispatched order',
    description:
      'Allowed once the parcel left (shipped, in transit or delivered) and until RETURN_WINDOW (default 30d) after ' +
      'delivery. Each line may return at most what was shipped minus what earlier returns (requested or received) ' +
      "took; a rejected return frees its units. `refundAmount` is the returned lines' captured amount, refunded when " +
      "the return is received. Starts the return's ReturnWorkflow; the return id is derived from the Idempotency-Key.",
    body: ReturnCreate,
    idempotent: true,
    responses: {
      201: { description: 'The return, requested', schema: Return, headers: { Location: "The order's returns" } },
      409: {
        description:
          'RETURN_NOT_ALLOWED: the order was not dispatched, nothing returnable remains, or the return window is over',
        schema: Problem,
      },
      422: {
        description: 'A line asks for more than was shipped minus already returned, or a product not in the order',
        schema: Problem,
      },
    },
    async handle({ params, body }, req, res) {
      const created = await returns.request(params.orderId, body, context(req));
      res.status(201).location(`/v1/orders/${params.orderId}/returns`).json(toReturnDto(created));
    },
  });

  ofOrder.get('/orders/:orderId/returns', {
    operationId: 'ListReturns',
    summary: "The order's returns, oldest first",
    description: 'Requested, received and rejected returns, each with what it refunds and what was refunded so far.',
    roles: ['customer', 'operator', 'service'],
    responses: { 200: { description: 'Returns', schema: ReturnList } },
    async handle({ params }, req, res) {
      const rows = await returns.list(params.orderId, req.principal!);
      res.json({ orderId: params.orderId, returns: rows.map(toReturnDto) });
    },
  });

  decisions.put('/returns/:returnId/status', {
    operationId: 'UpdateReturnStatus',
    summary: "The warehouse's decision on a return: received (restock and refund) or rejected (no refund)",
    description:
      "`received` restocks resellable units (on hand up, InventoryAdjusted) and refunds exactly the returned lines' " +
      'captured amount (PaymentRefunded); `damaged` units are refunded but not restocked. `rejected` closes the ' +
      'return without a refund. Waits up to CANCEL_WAIT for the refund; `refundedAmount` tells whether it went ' +
      'through (a refund that keeps failing flags the return NeedsAttention and waits for an operator). The same ' +
      'decision sent again answers the return as it is.',
    params: ReturnIdParams,
    body: ReturnStatusUpdate,
    idempotent: true,
    responses: {
      200: { description: 'The return after the decision', schema: Return },
      404: { description: 'Unknown return', schema: Problem },
      409: { description: 'RETURN_ALREADY_SETTLED: the return was already decided otherwise', schema: Problem },
    },
    async handle({ params, body }, req, res) {
      res.json(toReturnDto(await returns.settle(params.returnId, body, context(req))));
    },
  });
}
