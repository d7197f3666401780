-- The dashboard shows heals live: this trigger tells it (LISTEN dise_heals) when a heal run opens,
-- moves or ends, with the healed version's id as payload. Route and health changes already reach
-- it on dise_routing (20261126010000_routing_notify).

CREATE OR REPLACE FUNCTION dise_notify_heals() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('dise_heals', NEW.tool_id);
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER "heal_runs_notify_dashboard"
  AFTER INSERT OR UPDATE ON "heal_runs"
  FOR EACH ROW EXECUTE FUNCTION dise_notify_heals();
