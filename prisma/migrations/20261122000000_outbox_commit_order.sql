-- migrate:up

-- The relay publishes each aggregate's outbox rows in `seq` order. `seq` comes from a sequence, drawn when the row
-- is inserted, while the row becomes visible at commit: two transactions writing events for the same product
-- (two orders reserving it) could commit out of `seq` order, and a relay polling in between would publish the
-- later event first. This trigger takes a per-aggregate transaction lock and draws `seq` again under it, so for
-- one aggregate a later `seq` always belongs to a later commit. The lock is held to commit; writers of different
-- aggregates never wait for each other, and writers of one product are already serialised by its stock row.
-- The two-key form keeps these locks apart from the relay's one-key locks (pg_try_advisory_xact_lock(bigint)),
-- so a writer never waits for a relay that is publishing. 20290 is 'OB' (outbox).
CREATE FUNCTION outbox_seq_in_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(20290, hashtext(NEW.aggregate_id));
  NEW.seq := nextval('outbox_seq_seq');
  RETURN NEW;
END
$$;

CREATE TRIGGER outbox_seq_in_commit_order BEFORE INSERT ON outbox
  FOR EACH ROW EXECUTE FUNCTION outbox_seq_in_commit_order();

-- migrate:down
DROP TRIGGER outbox_seq_in_commit_order ON outbox;
DROP FUNCTION outbox_seq_in_commit_order();
