-- executions grew without bound (one bench:load run adds 1.2 million rows). It becomes a table
-- partitioned by day (UTC) on created_at, so old days are dropped whole (DROP TABLE of a partition:
-- no DELETE, no VACUUM), after their calls were summed into execution_rollups (per version and hour:
-- calls, errors, latency percentiles), kept for history. The runtime's INSERT is unchanged: rows go
-- to the partition of their day, or to executions_default when it does not exist yet (the
-- maintenance creates the coming days ahead, and moves such rows when it creates their day).

CREATE OR REPLACE FUNCTION dise_ensure_execution_partition(day date) RETURNS boolean AS $$
DECLARE
  part text := 'executions_p' || to_char(day, 'YYYYMMDD');
  lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
  hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE executions INCLUDING DEFAULTS)', part);
  EXECUTE format('WITH moved AS (DELETE FROM executions_default WHERE created_at >= %L AND created_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', lo, hi, part);
  EXECUTE format('ALTER TABLE executions ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
  RETURN true;
END
$$ LANGUAGE plpgsql;

ALTER TABLE "executions" RENAME TO "executions_unpartitioned";
ALTER TABLE "executions_unpartitioned" RENAME CONSTRAINT "executions_pkey" TO "executions_unpartitioned_pkey";
ALTER INDEX "idx_executions_tool_recent" RENAME TO "idx_executions_unpartitioned_tool_recent";

CREATE TABLE "executions" (
    "id" BIGINT NOT NULL DEFAULT nextval('executions_id_seq'),
    "tool_id" VARCHAR(255) NOT NULL,
    "ok" BOOLEAN NOT NULL,
    "error_type" VARCHAR(100),
    "error_message" TEXT,
    "duration_ms" DOUBLE PRECISION NOT NULL,
    "input_hash" VARCHAR(64) NOT NULL,
    "input" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    -- A partitioned table's keys must include the partition key.
    CONSTRAINT "executions_pkey" PRIMARY KEY ("id", "created_at")
) PARTITION BY RANGE ("created_at");
ALTER SEQUENCE "executions_id_seq" OWNED BY "executions"."id";

-- The fleet health check reads the last N calls of every version of the last day index-only: the
-- day bound prunes all but the latest partitions (however long the retention), and created_at in
-- the index keeps the bound inside the index scan.
CREATE INDEX "idx_executions_tool_recent" ON "executions"("tool_id", "id" DESC, "ok", "error_type", "created_at");

CREATE TABLE "executions_default" PARTITION OF "executions" DEFAULT;

-- A day for every day that has calls, and the coming week.
SELECT dise_ensure_execution_partition(d::date)
FROM generate_series(
  (SELECT COALESCE(min("created_at"), now()) FROM "executions_unpartitioned") AT TIME ZONE 'UTC',
  (now() + interval '7 days') AT TIME ZONE 'UTC',
  interval '1 day') d;

INSERT INTO "executions" SELECT * FROM "executions_unpartitioned";
DROP TABLE "executions_unpartitioned";

-- Per version and hour (UTC), what the dropped days leave behind: for history and the dashboard.
CREATE TABLE "execution_rollups" (
    "tool_id" VARCHAR(255) NOT NULL,
    "hour" TIMESTAMPTZ(3) NOT NULL,
    "calls" INTEGER NOT NULL,
    "errors" INTEGER NOT NULL,
    "p50_ms" DOUBLE PRECISION NOT NULL,
    "p95_ms" DOUBLE PRECISION NOT NULL,
    "p99_ms" DOUBLE PRECISION NOT NULL,
    "max_ms" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "execution_rollups_pkey" PRIMARY KEY ("tool_id", "hour")
);
CREATE INDEX "idx_execution_rollups_hour" ON "execution_rollups"("hour");

-- One row: how far the rollups reach (every hour before rolled_until is in execution_rollups) and
-- what the last maintenance did.
CREATE TABLE "execution_maintenance" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "rolled_until" TIMESTAMPTZ(3),
    "dropped_before" TIMESTAMPTZ(3),
    "last_run_at" TIMESTAMPTZ(3),

    CONSTRAINT "execution_maintenance_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "execution_maintenance_one_row" CHECK ("id" = 1)
);
INSERT INTO "execution_maintenance" ("id") VALUES (1);
