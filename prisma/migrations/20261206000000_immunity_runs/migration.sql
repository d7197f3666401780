-- The adversarial self-test of a tool (`dise immunity`): how many single-point mutants of a version
-- its suite refused before and after the inputs that kill the survivors were pinned as tests
-- (test_cases.origin 'pinned'), with the whole report.
CREATE TABLE "immunity_runs" (
    "id" SERIAL NOT NULL,
    "tool_id" VARCHAR(255) NOT NULL,
    "mutants" INTEGER NOT NULL,
    "killed_before" INTEGER NOT NULL,
    "killed_after" INTEGER NOT NULL,
    "pinned" INTEGER NOT NULL,
    "report" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "immunity_runs_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "idx_immunity_runs_tool" ON "immunity_runs"("tool_id");

ALTER TABLE "immunity_runs" ADD CONSTRAINT "immunity_runs_tool_id_fkey" FOREIGN KEY ("tool_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
