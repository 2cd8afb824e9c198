-- migrate:up

-- A row JetStream refuses (too large, no stream for its subject, ...) used to block its aggregate and make the
-- whole relay back off. Now the relay backs off per aggregate: the failing row gets `next_attempt_at`, and the
-- relay skips that aggregate until then while every other aggregate keeps flowing. Backoff lives in the table
-- (not in a relay's memory) so every relay replica honours it and a restart does not reset it.
-- An operator may dead-letter a row that will never go out (`npm run ops -- outbox dead-letter <seq>`): it is
-- kept for inspection but no longer blocks the events behind it.
ALTER TABLE outbox
  ADD COLUMN next_attempt_at   timestamptz,
  ADD COLUMN dead_lettered_at  timestamptz;

DROP INDEX outbox_unpublished_idx;
CREATE INDEX outbox_unpublished_idx ON outbox (seq) WHERE published_at IS NULL AND dead_lettered_at IS NULL;

-- migrate:down
DROP INDEX outbox_unpublished_idx;
CREATE INDEX outbox_unpublished_idx ON outbox (seq) WHERE published_at IS NULL;
ALTER TABLE outbox DROP COLUMN next_attempt_at, DROP COLUMN dead_lettered_at;
