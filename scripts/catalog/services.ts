/**
 * The Orders domain's services as the catalog names them (ids and names of the seed pages), and the bounded
 * contexts each one stands for: AsyncAPI channel keys and OpenAPI tags. The deployable is one process; the catalog
 * shows its contexts as the services of the domain.
 */
export const DOMAIN = {
  id: 'Orders',
  name: 'Orders',
  summary:
    'Everything about customer orders, from checkout to delivery: the order saga reserves stock, authorizes and ' +
    'captures payment, notifies the customer and asks the carrier to ship.',
} as const;

/** The team that owns every resource of the domain (the seed pages' owner of the Orders Service). */
export const OWNER = {
  id: 'order-management',
  name: 'Order management',
  summary: 'Owns the FlowMart order saga: the API, the Temporal workflow and its activities, and the event contracts.',
} as const;

export interface ServiceDefinition {
  id: string;
  name: string;
  summary: string;
  contexts: string[];
}

export const SERVICES: ServiceDefinition[] = [
  {
    id: 'OrdersService',
    name: 'Orders Service',
    summary:
      'Service that handles orders: places, amends, cancels and takes them back (returns), and runs each one as a ' +
      'Temporal saga.',
    // The subscription service is outside the domain; the order saga is what reacts to its cancellations. Returns are
    // the orders context's too (their events are on its channel); the API only tags them apart.
    contexts: ['orders', 'returns', 'subscriptions'],
  },
  {
    id: 'InventoryService',
    name: 'Inventory Service',
    summary: 'Service that handles the inventory: the product catalog, stock per warehouse and reservations.',
    contexts: ['inventory', 'catalog'],
  },
  {
    id: 'PaymentService',
    name: 'Payment Service',
    summary: 'Service that handles payments: authorizes, captures, voids and refunds through the gateway.',
    contexts: ['payments'],
  },
  {
    id: 'NotificationService',
    name: 'Notifications',
    summary: 'Service that handles notifications to customers about their orders.',
    contexts: ['notifications'],
  },
  {
    id: 'ShippingService',
    name: 'Shipping Service',
    summary: 'Service that handles shipping: asks the carrier for shipments and follows them to delivery.',
    contexts: ['shipping'],
  },
];

export class UnknownContextError extends Error {
  readonly code = 'UNKNOWN_CONTEXT';

  constructor(readonly context: string) {
    super(`no service of the Orders domain stands for the context "${context}"; add it to scripts/catalog/services.ts`);
    this.name = 'UnknownContextError';
  }
}

export function serviceFor(context: string): ServiceDefinition {
  const service = SERVICES.find((candidate) => candidate.contexts.includes(context));
  if (!service) throw new UnknownContextError(context);
  return service;
}
