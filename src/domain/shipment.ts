/** Where a shipment is; the shipping context reports every change. */
export const ShipmentStatus = {
  REQUESTED: 'REQUESTED',
  SHIPPED: 'SHIPPED',
  IN_TRANSIT: 'IN_TRANSIT',
  DELIVERED: 'DELIVERED',
  FAILED: 'FAILED',
  RETURNED: 'RETURNED',
  CANCELLED: 'CANCELLED',
} as const;
export type ShipmentStatus = (typeof ShipmentStatus)[keyof typeof ShipmentStatus];

/** One parcel of a split order: what leaves one warehouse. */
export interface Parcel {
  shipmentId: string;
  warehouseId: string;
  items: { productId: string; quantity: number }[];
}
