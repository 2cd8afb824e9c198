-- migrate:up

-- The relay LISTENs on 'outbox_inserted' and publishes as soon as a transaction that wrote outbox rows commits,
-- instead of finding the rows on its next poll (polling stays as the fallback). NOTIFY is delivered at commit and
-- not at all on rollback, so a woken relay always finds the rows; identical notifications of one transaction are
-- folded into one, so a statement-level trigger costs one notification per writing transaction at most.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox_inserted', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- migrate:down
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();
