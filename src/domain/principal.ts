/** Who is asking: the roles of the API's callers and whose orders each may see. */

export const Role = { customer: 'customer', operator: 'operator', service: 'service' } as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface Principal {
  role: Role;
  /** The customer id for customers; a name for operators and services. */
  subject: string;
}

/** Customers see only their own orders; a foreign order is reported as missing, not forbidden, to hide it exists. */
export function canSeeCustomer(principal: Principal, customerId: string): boolean {
  return principal.role !== 'customer' || principal.subject === customerId;
}
