-- Safe deployment (issue 14): a version in CANARY runs in shadow beside its tool's stable version;
-- runtimes record one comparison per mirrored call; the canary workflow judges and ends it.
CREATE TABLE "canaries" (
    "candidate_id" VARCHAR(255) NOT NULL,
    "tool_name" VARCHAR(255) NOT NULL,
    "stable_id" VARCHAR(255) NOT NULL,
    "target_health" VARCHAR(50) NOT NULL,
    "origin" VARCHAR(20) NOT NULL,
    "heal_id" VARCHAR(255),
    "workflow_id" VARCHAR(255) NOT NULL,
    "mirror_fraction" DOUBLE PRECISION NOT NULL,
    "status" VARCHAR(20) NOT NULL DEFAULT 'running',
    "verdict" JSONB,
    "decision" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ended_at" TIMESTAMPTZ(3),

    CONSTRAINT "canaries_pkey" PRIMARY KEY ("candidate_id")
);

CREATE INDEX "idx_canaries_tool_status" ON "canaries"("tool_name", "status");

ALTER TABLE "canaries" ADD CONSTRAINT "canaries_candidate_id_fkey" FOREIGN KEY ("candidate_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- No foreign key, like executions: runtimes write these in batches on their own pools.
CREATE TABLE "canary_comparisons" (
    "id" BIGSERIAL NOT NULL,
    "candidate_id" VARCHAR(255) NOT NULL,
    "stable_id" VARCHAR(255) NOT NULL,
    "agree" BOOLEAN NOT NULL,
    "stable_ok" BOOLEAN NOT NULL,
    "candidate_ok" BOOLEAN NOT NULL,
    "candidate_error" VARCHAR(100),
    "stable_ms" DOUBLE PRECISION NOT NULL,
    "candidate_ms" DOUBLE PRECISION NOT NULL,
    "input_hash" VARCHAR(64) NOT NULL,
    "input" JSONB,
    "stable_output" JSONB,
    "candidate_output" JSONB,
    "source" VARCHAR(255) NOT NULL,
    "seq" BIGINT NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "canary_comparisons_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "uq_canary_comparisons_source_seq" ON "canary_comparisons"("source", "seq");
CREATE INDEX "idx_canary_comparisons_candidate" ON "canary_comparisons"("candidate_id", "agree");

-- Runtimes learn of a canary beginning or ending at once (the candidate's health change notifies too;
-- this covers a canary row changing on its own, e.g. its mirror fraction).
CREATE TRIGGER "canaries_notify_routing"
  AFTER INSERT OR UPDATE OR DELETE ON "canaries"
  FOR EACH ROW EXECUTE FUNCTION dise_notify_routing();
