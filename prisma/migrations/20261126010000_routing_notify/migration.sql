-- Tool runtimes cache routes and version health in memory; these triggers tell them (LISTEN
-- dise_routing) the moment a route moves or a version's health changes, with the tool name as payload.
-- PostgreSQL folds identical notifications of one transaction into one, so tainting thousands of
-- versions of a tool sends a single message.

CREATE OR REPLACE FUNCTION dise_notify_routing() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('dise_routing', OLD.tool_name);
  ELSE
    PERFORM pg_notify('dise_routing', NEW.tool_name);
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER "routes_notify_routing"
  AFTER INSERT OR UPDATE OR DELETE ON "routes"
  FOR EACH ROW EXECUTE FUNCTION dise_notify_routing();

CREATE TRIGGER "tool_lineage_notify_health"
  AFTER UPDATE OF "health_status" ON "tool_lineage"
  FOR EACH ROW WHEN (OLD.health_status IS DISTINCT FROM NEW.health_status)
  EXECUTE FUNCTION dise_notify_routing();
