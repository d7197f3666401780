-- The differential check (issue 13): a bounded sample of successful call inputs per tool, kept by
-- the runtimes' reservoir sampling, and the result of every check of a version against its parent(s).
CREATE TABLE "input_samples" (
    "tool_name" VARCHAR(255) NOT NULL,
    "slot" INTEGER NOT NULL,
    "input" JSONB NOT NULL,
    "input_hash" VARCHAR(64) NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "input_samples_pkey" PRIMARY KEY ("tool_name", "slot")
);

CREATE TABLE "differential_checks" (
    "id" SERIAL NOT NULL,
    "tool_id" VARCHAR(255) NOT NULL,
    "parent_ids" JSONB NOT NULL,
    "mutation_type" VARCHAR(50),
    "judged_as" VARCHAR(50) NOT NULL,
    "verdict" VARCHAR(20) NOT NULL,
    "seed" INTEGER NOT NULL,
    "inputs" INTEGER NOT NULL,
    "sources" JSONB NOT NULL,
    "differences" JSONB NOT NULL DEFAULT '[]',
    "message" TEXT NOT NULL DEFAULT '',
    "duration_ms" DOUBLE PRECISION NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "differential_checks_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "idx_differential_checks_tool" ON "differential_checks"("tool_id");

ALTER TABLE "differential_checks" ADD CONSTRAINT "differential_checks_tool_id_fkey" FOREIGN KEY ("tool_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
