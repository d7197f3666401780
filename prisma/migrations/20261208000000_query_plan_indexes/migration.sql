-- Indexes for the health monitor's and the dashboard's reads at storm scale (100,000 versions;
-- test/integration/query-plans.test.ts shows the plans).
-- The monitor's failure_count check: the few versions at or over the trigger, found without reading
-- every version (the routes are then joined by idx_routes_version).
CREATE INDEX "idx_lineage_failure_count" ON "tool_lineage"("failure_count", "health_status");

-- The heals page and the strategy records read the latest heals first: a backward scan stops at the limit.
CREATE INDEX "idx_heal_runs_started" ON "heal_runs"("started_at");

-- The monitor's minted regression tests: the minted few among every version's tests.
CREATE INDEX "idx_test_cases_origin" ON "test_cases"("origin", "tool_id");
