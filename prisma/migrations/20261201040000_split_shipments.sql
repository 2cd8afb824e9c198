-- migrate:up

-- Split fulfilment: an order ships one parcel per warehouse its stock was reserved in. A parcel names the warehouse
-- it leaves from and what it holds; rows from before (one shipment per order) keep both NULL.
ALTER TABLE shipments DROP CONSTRAINT shipments_order_id_key;
ALTER TABLE shipments ADD COLUMN warehouse_id text, ADD COLUMN items jsonb;
CREATE INDEX shipments_order_idx ON shipments (order_id);

-- migrate:down
DROP INDEX shipments_order_idx;
ALTER TABLE shipments DROP COLUMN items, DROP COLUMN warehouse_id;
ALTER TABLE shipments ADD CONSTRAINT shipments_order_id_key UNIQUE (order_id);
