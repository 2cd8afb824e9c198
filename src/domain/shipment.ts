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

/** What a carrier's update (`shipped`, `delivered`, ...) leaves the shipment showing once recorded. */
const RECORDED_AS = {
  shipped: ShipmentStatus.SHIPPED,
  in_transit: ShipmentStatus.IN_TRANSIT,
  delivered: ShipmentStatus.DELIVERED,
  failed: ShipmentStatus.FAILED,
  returned: ShipmentStatus.RETURNED,
} as const;
export type CarrierStatus = keyof typeof RECORDED_AS;

export function shipmentStatusOf(update: CarrierStatus): ShipmentStatus {
  return RECORDED_AS[update];
}

/** One parcel of a split order: what leaves one warehouse. */
export interface Parcel {
  shipmentId: string;
  warehouseId: string;
  items: { productId: string; quantity: number }[];
}
