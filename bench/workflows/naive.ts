// F-T-naive, a fixed reference floor that does not follow the order's shape: the catalog's five checkout steps as
// five regular no-op activities with the SDK's defaults, the way the Temporal samples write them. Only
// startToCloseTimeout is set, because the SDK requires a timeout; the retry policy is the server's default.
import { proxyActivities } from '@temporalio/workflow';

export interface NaiveCheckoutActivities {
  createOrder(): Promise<void>;
  reserveInventory(): Promise<void>;
  authorizePayment(): Promise<void>;
  sendNotification(): Promise<void>;
  /** Also publishes the workflow id on core NATS: the confirmation point the driver measures to. */
  confirmOrder(): Promise<void>;
}

const { createOrder, reserveInventory, authorizePayment, sendNotification, confirmOrder } =
  proxyActivities<NaiveCheckoutActivities>({ startToCloseTimeout: '1 minute' });

export async function NaiveCheckoutWorkflow(): Promise<void> {
  await createOrder();
  await reserveInventory();
  await authorizePayment();
  await sendNotification();
  await confirmOrder();
}
