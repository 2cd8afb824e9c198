-- migrate:up
CREATE TABLE products (
  id          uuid PRIMARY KEY,
  sku         text NOT NULL UNIQUE,
  name        text NOT NULL,
  unit_price  integer NOT NULL CHECK (unit_price >= 0),
  currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- available = on_hand - reserved; the CHECKs make overselling impossible whatever the code does.
CREATE TABLE inventory_items (
  product_id    uuid NOT NULL REFERENCES products(id) ON DELETE CASCADE,
  warehouse_id  text NOT NULL,
  on_hand       integer NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
  reserved      integer NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= on_hand),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (product_id, warehouse_id)
);

CREATE TABLE orders (
  id                   uuid PRIMARY KEY,
  customer_id          uuid NOT NULL,
  subscription_id      text,
  status               text NOT NULL,
  stage                text NOT NULL,
  revision             integer NOT NULL DEFAULT 1,
  currency             char(3) NOT NULL,
  total_amount         integer NOT NULL CHECK (total_amount >= 0),
  shipping_address     jsonb NOT NULL,
  billing_address      jsonb,
  payment_method       text NOT NULL,
  cancellation_reason  text,
  needs_attention      boolean NOT NULL DEFAULT false,
  -- Highest workflow step applied; activities carrying a lower sequence are stale retries and change nothing.
  step_seq             integer NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_idx ON orders (customer_id, created_at DESC);
CREATE INDEX orders_status_idx ON orders (status, created_at DESC);
CREATE INDEX orders_stage_idx ON orders (stage);

CREATE TABLE order_items (
  order_id      uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
  product_id    uuid NOT NULL REFERENCES products(id),
  sku           text NOT NULL,
  product_name  text NOT NULL,
  quantity      integer NOT NULL CHECK (quantity > 0),
  unit_price    integer NOT NULL CHECK (unit_price >= 0),
  PRIMARY KEY (order_id, product_id)
);

CREATE TABLE order_status_history (
  id          bigserial PRIMARY KEY,
  order_id    uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
  seq         integer NOT NULL,
  from_stage  text,
  to_stage    text NOT NULL,
  status      text NOT NULL,
  reason      text,
  revision    integer NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (order_id, seq)
);

CREATE TABLE reservations (
  id            uuid PRIMARY KEY,
  order_id      uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
  product_id    uuid NOT NULL,
  warehouse_id  text NOT NULL,
  quantity      integer NOT NULL CHECK (quantity >= 0),
  status        text NOT NULL CHECK (status IN ('HELD', 'RELEASED', 'COMMITTED', 'EXPIRED')),
  expires_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (order_id, product_id, warehouse_id),
  FOREIGN KEY (product_id, warehouse_id) REFERENCES inventory_items(product_id, warehouse_id)
);
CREATE INDEX reservations_expiry_idx ON reservations (expires_at) WHERE status = 'HELD';

CREATE TABLE payments (
  id                uuid PRIMARY KEY,
  order_id          uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
  kind              text NOT NULL CHECK (kind IN ('AUTHORIZATION', 'CAPTURE', 'VOID', 'REFUND')),
  status            text NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED')),
  amount            integer NOT NULL CHECK (amount >= 0),
  currency          char(3) NOT NULL,
  method            text NOT NULL,
  idempotency_key   text NOT NULL UNIQUE,
  provider_ref      text,
  authorization_id  uuid REFERENCES payments(id),
  failure_code      text,
  failure_message   text,
  expires_at        timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_order_idx ON payments (order_id, created_at);

-- The simulated gateway's own ledger: what a real provider remembers per idempotency key.
CREATE TABLE gateway_ledger (
  idempotency_key  text PRIMARY KEY,
  operation        text NOT NULL,
  request_hash     text NOT NULL,
  response         jsonb NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notifications (
  id               uuid PRIMARY KEY,
  order_id         uuid REFERENCES orders(id) ON DELETE CASCADE,
  user_id          uuid NOT NULL,
  channel          text NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
  template         text NOT NULL,
  title            text NOT NULL,
  message          text NOT NULL,
  status           text NOT NULL CHECK (status IN ('sent', 'failed')),
  failure_reason   text,
  read_at          timestamptz,
  idempotency_key  text NOT NULL UNIQUE,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC);

CREATE TABLE shipments (
  id          uuid PRIMARY KEY,
  order_id    uuid NOT NULL UNIQUE REFERENCES orders(id) ON DELETE CASCADE,
  status      text NOT NULL CHECK (status IN ('REQUESTED', 'SHIPPED', 'IN_TRANSIT', 'DELIVERED', 'FAILED', 'RETURNED', 'CANCELLED')),
  method      text NOT NULL,
  address     jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: rows are written in the transaction of the change they report.
CREATE TABLE outbox (
  seq           bigserial PRIMARY KEY,
  id            uuid NOT NULL UNIQUE,
  aggregate_id  text NOT NULL,
  subject       text NOT NULL,
  type          text NOT NULL,
  envelope      jsonb NOT NULL,
  headers       jsonb NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz,
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text
);
CREATE INDEX outbox_unpublished_idx ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_aggregate_idx ON outbox (aggregate_id, seq);

CREATE TABLE inbox (
  consumer      text NOT NULL,
  event_id      text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);

CREATE TABLE parked_messages (
  id          uuid PRIMARY KEY,
  consumer    text NOT NULL,
  subject     text NOT NULL,
  stream_seq  bigint,
  payload     text NOT NULL,
  reason      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE idempotency_keys (
  principal         text NOT NULL,
  key               text NOT NULL,
  method            text NOT NULL,
  path              text NOT NULL,
  body_hash         text NOT NULL,
  state             text NOT NULL CHECK (state IN ('IN_FLIGHT', 'DONE')),
  response_status   integer,
  response_headers  jsonb,
  response_body     jsonb,
  created_at        timestamptz NOT NULL DEFAULT now(),
  expires_at        timestamptz NOT NULL,
  PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- migrate:down
DROP TABLE idempotency_keys, parked_messages, inbox, outbox, shipments, notifications, gateway_ledger, payments,
  reservations, order_status_history, order_items, orders, inventory_items, products;
