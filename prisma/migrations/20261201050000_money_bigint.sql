-- migrate:up

-- Money in minor units is 64-bit everywhere it is stored: 32 bits end at 21,474,836.47 in a two-decimal currency,
-- below what 50 lines of 1000 units can add up to. The API caps an order total (MAX_ORDER_TOTAL) as a business rule;
-- the columns never are the limit. The CHECKs on these columns are kept as they are.
ALTER TABLE products ALTER COLUMN unit_price TYPE bigint;
ALTER TABLE order_items ALTER COLUMN unit_price TYPE bigint;
ALTER TABLE orders ALTER COLUMN total_amount TYPE bigint;
ALTER TABLE payments ALTER COLUMN amount TYPE bigint;
ALTER TABLE returns ALTER COLUMN refund_amount TYPE bigint, ALTER COLUMN refunded_amount TYPE bigint;
ALTER TABLE return_items ALTER COLUMN unit_price TYPE bigint;

-- migrate:down
ALTER TABLE return_items ALTER COLUMN unit_price TYPE integer;
ALTER TABLE returns ALTER COLUMN refunded_amount TYPE integer, ALTER COLUMN refund_amount TYPE integer;
ALTER TABLE payments ALTER COLUMN amount TYPE integer;
ALTER TABLE orders ALTER COLUMN total_amount TYPE integer;
ALTER TABLE order_items ALTER COLUMN unit_price TYPE integer;
ALTER TABLE products ALTER COLUMN unit_price TYPE integer;
