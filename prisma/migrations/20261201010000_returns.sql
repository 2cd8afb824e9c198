-- migrate:up

-- Returns after dispatch (SPEC section 2): one row per return request, its lines, and a fence of its own. The
-- return's ReturnWorkflow numbers its steps like an order's (step_seq), but on the return: the order's workflow may
-- still be running (shipped, not delivered) and must not have its steps fenced out by a return's, or the reverse.
CREATE TABLE returns (
  id               UUID PRIMARY KEY,
  order_id         UUID NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
  status           TEXT NOT NULL CHECK (status IN ('REQUESTED', 'RECEIVED', 'REJECTED')),
  reason           TEXT NOT NULL,
  condition        TEXT CHECK (condition IN ('resellable', 'damaged')),
  -- What the returned lines cost when captured; fixed when the return is requested, refunded when it is received.
  refund_amount    INTEGER NOT NULL CHECK (refund_amount >= 0),
  refunded_amount  INTEGER NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= refund_amount),
  needs_attention  BOOLEAN NOT NULL DEFAULT false,
  step_seq         INTEGER NOT NULL DEFAULT 0,
  created_at       TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  updated_at       TIMESTAMPTZ(6) NOT NULL DEFAULT now()
);
CREATE INDEX returns_order_idx ON returns (order_id, created_at);

CREATE TABLE return_items (
  return_id   UUID NOT NULL REFERENCES returns(id) ON DELETE CASCADE,
  product_id  UUID NOT NULL,
  quantity    INTEGER NOT NULL CHECK (quantity > 0),
  unit_price  INTEGER NOT NULL CHECK (unit_price >= 0),
  PRIMARY KEY (return_id, product_id)
);

-- migrate:down
DROP TABLE return_items;
DROP TABLE returns;
