-- migrate:up

-- The step fence also records which step took the order's last number: a local activity's step can commit and then
-- lose its workflow task, and the retried task may give that number to another step (a message handled first). That
-- step has not applied and must; a retry of the same step must not. NULL: applied before the column existed.
ALTER TABLE orders ADD COLUMN step_key text;

-- migrate:down
ALTER TABLE orders DROP COLUMN step_key;
