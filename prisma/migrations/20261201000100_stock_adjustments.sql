-- migrate:up

-- Each stock adjustment (an operator's or service's request, an external InventoryAdjusted message) is claimed by
-- its id in the same transaction that changes the stock: a retry of a request whose answer was lost (a 503 after
-- the commit, a timeout) finds its id here and changes nothing.
CREATE TABLE stock_adjustments (
  adjustment_id   TEXT PRIMARY KEY,
  product_id      UUID NOT NULL,
  warehouse_id    TEXT NOT NULL,
  quantity_change INTEGER NOT NULL,
  created_at      TIMESTAMPTZ(6) NOT NULL DEFAULT now()
);

-- migrate:down
DROP TABLE stock_adjustments;
