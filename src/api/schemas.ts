import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { CancellationReason, OrderStatus, Stage } from '../domain/order.js';

extendZodWithOpenApi(z);

/**
 * Request and response shapes of the HTTP API. The routes validate with these and the OpenAPI document is
 * generated from them, so the two cannot drift. Objects are strict: unknown fields are rejected, never ignored.
 */

/** At most `max` characters as sent (what the document's maxLength says), not blank once trimmed. */
export const text = (max: number) => z.string().max(max).trim().min(1);
export const Uuid = z.uuid().openapi({ example: '3fa85f64-5717-4562-b3fc-2c963f66afa6' });
export const Currency = z
  .string()
  .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD')
  .openapi({ example: 'USD' });
export const MinorUnits = z
  .number()
  .int()
  .min(0)
  .max(100_000_000)
  .openapi({ description: 'Integer minor units (cents)' });

export const Address = z
  .strictObject({
    street: text(200),
    city: text(100),
    state: text(100).optional(),
    postalCode: text(20),
    country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as US'),
  })
  .openapi('Address');

export const OrderItemInput = z
  .strictObject({
    productId: Uuid,
    quantity: z.number().int().min(1).max(1000),
    price: MinorUnits.optional().openapi({
      description: 'Optional unit price the client saw, in minor units; a mismatch with the catalog is a 422',
    }),
  })
  .openapi('OrderItemInput');

const Items = z
  .array(OrderItemInput)
  .min(1, 'an order needs at least one item')
  .max(50, 'at most 50 lines per order')
  .refine(
    (items) => new Set(items.map((item) => item.productId)).size === items.length,
    'each product may appear once'
  );

export const OrderCreate = z
  .strictObject({
    customerId: Uuid,
    items: Items,
    shippingAddress: Address,
    billingAddress: Address.optional(),
    currency: Currency,
    payment: z.strictObject({
      method: z.enum(['card']).openapi({ description: 'Only cards are supported by the built-in gateway' }),
      token: text(100).openapi({ example: 'tok_visa' }),
    }),
    shippingMethod: z.enum(['standard', 'express']).default('standard'),
    subscriptionId: text(100).optional(),
  })
  .openapi('OrderCreate');
export type OrderCreate = z.infer<typeof OrderCreate>;

// The lists come from the domain vocabulary, so the API, its OpenAPI document and the saga cannot drift apart.
export const OrderStatusEnum = z.enum(OrderStatus);
export const StageEnum = z.enum(Stage);
export const CancellationReasonEnum = z.enum(CancellationReason);

export const OrderUpdate = z.strictObject({ status: OrderStatusEnum }).openapi('OrderUpdate');

export const CancelRequest = z
  .strictObject({ reason: CancellationReasonEnum.default(CancellationReason.CUSTOMER_REQUESTED) })
  .openapi('CancelRequest');

export const AmendRequest = z
  .strictObject({
    items: Items.optional(),
    shippingAddress: Address.optional(),
  })
  .refine((body) => body.items || body.shippingAddress, 'send items, shippingAddress or both')
  .openapi('AmendRequest');

export const ListOrdersQuery = z.strictObject({
  status: OrderStatusEnum.optional(),
  customerId: Uuid.optional(),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const OrderIdParams = z.strictObject({ orderId: Uuid });

export const ReturnCreate = z
  .strictObject({
    items: z
      .array(z.strictObject({ productId: Uuid, quantity: z.number().int().min(1).max(1000) }))
      .min(1, 'a return needs at least one item')
      .max(50, 'at most 50 lines per return')
      .refine(
        (items) => new Set(items.map((item) => item.productId)).size === items.length,
        'each product may appear once'
      ),
    reason: text(500).openapi({ example: 'too small' }),
  })
  .openapi('ReturnCreate');

export const ReturnStatusUpdate = z
  .strictObject({
    status: z.enum(['received', 'rejected']),
    condition: z
      .enum(['resellable', 'damaged'])
      .optional()
      .openapi({ description: 'For `received`: resellable units are restocked (the default), damaged ones are not' }),
  })
  .openapi('ReturnStatusUpdate');

export const ReturnIdParams = z.strictObject({ returnId: Uuid });

export const Return = z
  .object({
    returnId: Uuid,
    orderId: Uuid,
    status: z.enum(['requested', 'received', 'rejected']),
    condition: z.enum(['resellable', 'damaged']).nullable(),
    reason: z.string(),
    items: z.array(
      z.object({ productId: Uuid, quantity: z.number().int(), unitPrice: MinorUnits, lineTotal: MinorUnits })
    ),
    refundAmount: MinorUnits.openapi({ description: "The returned lines' captured amount, refunded on receipt" }),
    refundedAmount: MinorUnits,
    needsAttention: z.boolean().openapi({ description: 'The refund keeps failing and waits for an operator' }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('Return');
export type Return = z.infer<typeof Return>;

export const ReturnList = z.object({ orderId: Uuid, returns: z.array(Return) }).openapi('ReturnList');

const Money = z.strictObject({ amount: MinorUnits, currency: Currency }).openapi('Money');

const ShipmentSummary = z
  .object({
    shipmentId: Uuid,
    status: z.string(),
    method: z.string(),
    warehouseId: z
      .string()
      .nullable()
      .describe('Where the parcel leaves from; null for shipments made before split fulfilment'),
    items: z.array(z.object({ productId: Uuid, quantity: z.number().int() })).describe('What the parcel holds'),
  })
  .openapi('ShipmentSummary');

export const Order = z
  .object({
    id: Uuid,
    orderId: Uuid,
    customerId: Uuid,
    status: OrderStatusEnum,
    stage: StageEnum,
    revision: z.number().int(),
    items: z.array(
      z.object({
        productId: Uuid,
        sku: z.string(),
        name: z.string(),
        quantity: z.number().int(),
        price: MinorUnits,
        lineTotal: MinorUnits,
      })
    ),
    currency: Currency,
    totalAmount: MinorUnits,
    total: Money,
    shippingAddress: Address,
    // A union, not Address.nullable(): the generator renders that as allOf [Address, object|null], which rejects null.
    billingAddress: z.union([Address, z.null()]),
    payment: z
      .object({
        method: z.string(),
        status: z.enum(['none', 'authorized', 'captured', 'voided', 'refunded', 'failed']),
        authorizedAmount: MinorUnits.nullable(),
        capturedAmount: MinorUnits.nullable(),
        refundedAmount: MinorUnits.openapi({ description: 'Refunded of the capture (cancellation or returns)' }),
        authorizationExpiresAt: z.iso.datetime().nullable(),
      })
      .openapi('PaymentSummary'),
    reservation: z
      .object({
        status: z.enum(['none', 'held', 'committed', 'released']),
        items: z.array(
          z.object({ productId: Uuid, warehouseId: z.string(), quantity: z.number().int(), status: z.string() })
        ),
      })
      .openapi('ReservationSummary'),
    // A union, not .nullable(), for the same reason as billingAddress.
    shipment: z
      .union([ShipmentSummary, z.null()])
      .describe('The first of `shipments`, as before orders shipped in parcels'),
    shipments: z
      .array(ShipmentSummary)
      .describe('One shipment per warehouse the stock came from (split fulfilment), each captured as it leaves'),
    returns: z.array(Return),
    cancellationReason: CancellationReasonEnum.nullable(),
    needsAttention: z.boolean(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('Order');
export type Order = z.infer<typeof Order>;

export const OrderList = z
  .object({
    items: z.array(Order),
    pagination: z.object({
      totalItems: z.number().int(),
      totalPages: z.number().int(),
      currentPage: z.number().int(),
      itemsPerPage: z.number().int(),
    }),
  })
  .openapi('OrderList');

export const Accepted = z
  .object({ orderId: Uuid, status: z.literal('accepted'), location: z.string() })
  .openapi('OrderAccepted', { description: 'The workflow started but has not persisted the order yet' });

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    code: z.string(),
    message: z.string(),
    details: z.array(z.string()),
    errors: z.array(z.object({ field: z.string().optional(), message: z.string() })),
  })
  .openapi('Problem', {
    description: 'RFC 9457 problem document with the catalog Error fields code, message, details',
  });

export const OrderEvents = z
  .object({
    orderId: Uuid,
    events: z.array(
      z.object({
        id: Uuid,
        type: z.string(),
        subject: z.string(),
        channel: z.string(),
        time: z.iso.datetime(),
        published: z.boolean(),
        envelope: z.record(z.string(), z.unknown()),
      })
    ),
  })
  .openapi('OrderEvents');

export const ShipmentStatusUpdate = z
  .strictObject({
    status: z.enum(['shipped', 'in_transit', 'delivered', 'failed', 'returned']),
    updatedAt: z.iso.datetime().optional(),
  })
  .openapi('UpdateShipmentStatus');

export const PaymentStatus = z
  .object({
    orderId: Uuid,
    paymentStatus: z.enum(['pending', 'completed', 'failed', 'refunded']),
    amount: z.number(),
    currency: Currency,
    paymentMethod: z.string(),
    transactionId: z.string().nullable(),
    paymentDate: z.iso.datetime().nullable(),
    operations: z.array(
      z.object({ id: Uuid, kind: z.string(), status: z.string(), amount: MinorUnits, createdAt: z.iso.datetime() })
    ),
  })
  .openapi('PaymentStatus');

export const Notification = z
  .object({
    notificationId: Uuid,
    title: z.string(),
    message: z.string(),
    status: z.enum(['unread', 'read']),
    channel: z.string(),
    userId: Uuid,
    type: z.string(),
    createdAt: z.iso.datetime(),
    metadata: z.object({ orderId: Uuid.nullable() }),
  })
  .openapi('Notification');

export const UserNotifications = z
  .object({ userId: Uuid, notifications: z.array(Notification) })
  .openapi('UserNotifications');

export const IdempotencyKeyHeader = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{8,255}$/, 'must be 8-255 characters of letters, digits, _ . : -');
