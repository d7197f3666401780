-- dise-heal initial schema: the seed's seven tables plus executions, test_cases, routes, heal_runs.

-- CreateTable
CREATE TABLE "tool_lineage" (
    "tool_id" VARCHAR(255) NOT NULL,
    "tool_name" VARCHAR(255) NOT NULL,
    "version" VARCHAR(50) NOT NULL,
    "full_name" VARCHAR(255) NOT NULL,
    "major" INTEGER NOT NULL,
    "minor" INTEGER NOT NULL,
    "patch" INTEGER NOT NULL,
    "health_status" VARCHAR(50) NOT NULL DEFAULT 'healthy',
    "failure_count" INTEGER NOT NULL DEFAULT 0,
    "generation" INTEGER NOT NULL DEFAULT 0,
    "execution_count" INTEGER NOT NULL DEFAULT 0,
    "success_rate" DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    "code" TEXT NOT NULL,
    "code_hash" VARCHAR(64) NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "category" VARCHAR(100) NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_executed" TIMESTAMPTZ(3),
    "pruned_at" TIMESTAMPTZ(3),
    "regenerated_from" VARCHAR(255),

    CONSTRAINT "tool_lineage_pkey" PRIMARY KEY ("tool_id")
);

-- CreateTable
CREATE TABLE "lineage_relationships" (
    "id" SERIAL NOT NULL,
    "child_id" VARCHAR(255) NOT NULL,
    "parent_id" VARCHAR(255) NOT NULL,
    "relationship_type" VARCHAR(50) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "lineage_relationships_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "mutations" (
    "id" SERIAL NOT NULL,
    "tool_id" VARCHAR(255) NOT NULL,
    "mutation_type" VARCHAR(50) NOT NULL,
    "description" TEXT NOT NULL,
    "prompt_used" TEXT,
    "code_diff_hash" VARCHAR(64) NOT NULL,
    "fitness_before" DOUBLE PRECISION,
    "fitness_after" DOUBLE PRECISION,
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "mutations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "failures" (
    "id" SERIAL NOT NULL,
    "tool_id" VARCHAR(255) NOT NULL,
    "failure_type" VARCHAR(100) NOT NULL,
    "description" TEXT NOT NULL,
    "stack_trace" TEXT,
    "test_case_failed" VARCHAR(255),
    "detection_method" VARCHAR(50) NOT NULL,
    "severity" VARCHAR(20) NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "dedupe_key" VARCHAR(255),
    "evidence" JSONB,

    CONSTRAINT "failures_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "avoidance_rules" (
    "rule_id" VARCHAR(255) NOT NULL,
    "description" TEXT NOT NULL,
    "pattern_to_avoid" TEXT NOT NULL,
    "pattern_kind" VARCHAR(20) NOT NULL DEFAULT 'semantic',
    "reason" TEXT NOT NULL,
    "source_failure" VARCHAR(255) NOT NULL,
    "propagation_scope" VARCHAR(50) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "avoidance_rules_pkey" PRIMARY KEY ("rule_id")
);

-- CreateTable
CREATE TABLE "rule_inheritance" (
    "id" SERIAL NOT NULL,
    "tool_id" VARCHAR(255) NOT NULL,
    "rule_id" VARCHAR(255) NOT NULL,
    "inherited_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "via" VARCHAR(20) NOT NULL DEFAULT 'ancestor',

    CONSTRAINT "rule_inheritance_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "fitness_history" (
    "id" SERIAL NOT NULL,
    "tool_id" VARCHAR(255) NOT NULL,
    "fitness_score" DOUBLE PRECISION NOT NULL,
    "execution_time_ms" INTEGER,
    "memory_usage_mb" DOUBLE PRECISION,
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "fitness_history_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "executions" (
    "id" BIGSERIAL NOT NULL,
    "tool_id" VARCHAR(255) NOT NULL,
    "ok" BOOLEAN NOT NULL,
    "error_type" VARCHAR(100),
    "error_message" TEXT,
    "duration_ms" DOUBLE PRECISION NOT NULL,
    "input_hash" VARCHAR(64) NOT NULL,
    "input" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "executions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "test_cases" (
    "id" SERIAL NOT NULL,
    "tool_id" VARCHAR(255) NOT NULL,
    "name" VARCHAR(255) NOT NULL,
    "input" JSONB NOT NULL,
    "expected" JSONB NOT NULL,
    "critical" BOOLEAN NOT NULL DEFAULT true,
    "origin" VARCHAR(20) NOT NULL DEFAULT 'authored',
    "source_failure_id" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "test_cases_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "routes" (
    "tool_name" VARCHAR(255) NOT NULL,
    "version_id" VARCHAR(255) NOT NULL,
    "reason" TEXT NOT NULL DEFAULT '',
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "routes_pkey" PRIMARY KEY ("tool_name")
);

-- CreateTable
CREATE TABLE "heal_runs" (
    "id" VARCHAR(255) NOT NULL,
    "workflow_id" VARCHAR(255) NOT NULL,
    "tool_id" VARCHAR(255) NOT NULL,
    "status" VARCHAR(20) NOT NULL,
    "trigger" VARCHAR(50) NOT NULL DEFAULT '',
    "steps" JSONB NOT NULL DEFAULT '[]',
    "result" JSONB,
    "error" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "heal_runs_pkey" PRIMARY KEY ("id")
);

-- Indexes (the seed's, then ours)
CREATE UNIQUE INDEX "uq_lineage_name_semver" ON "tool_lineage"("tool_name", "major", "minor", "patch");
CREATE INDEX "idx_lineage_health" ON "tool_lineage"("health_status");
CREATE INDEX "idx_lineage_version" ON "tool_lineage"("version");
CREATE INDEX "idx_lineage_tool_name" ON "tool_lineage"("tool_name");
CREATE UNIQUE INDEX "uq_relationship" ON "lineage_relationships"("child_id", "parent_id", "relationship_type");
CREATE INDEX "idx_relationships_child" ON "lineage_relationships"("child_id");
CREATE INDEX "idx_relationships_parent" ON "lineage_relationships"("parent_id");
CREATE INDEX "idx_mutations_tool" ON "mutations"("tool_id");
CREATE UNIQUE INDEX "uq_failures_dedupe_key" ON "failures"("dedupe_key");
CREATE INDEX "idx_failures_tool" ON "failures"("tool_id");
CREATE INDEX "idx_failures_severity" ON "failures"("severity");
CREATE INDEX "idx_rules_source" ON "avoidance_rules"("source_failure");
CREATE UNIQUE INDEX "uq_inheritance_tool_rule" ON "rule_inheritance"("tool_id", "rule_id");
CREATE INDEX "idx_inheritance_tool" ON "rule_inheritance"("tool_id");
CREATE INDEX "idx_inheritance_rule" ON "rule_inheritance"("rule_id");
CREATE INDEX "idx_fitness_tool" ON "fitness_history"("tool_id");
CREATE INDEX "idx_executions_tool_recent" ON "executions"("tool_id", "id" DESC);
CREATE UNIQUE INDEX "uq_test_cases_tool_name" ON "test_cases"("tool_id", "name");
CREATE INDEX "idx_test_cases_tool" ON "test_cases"("tool_id");
CREATE INDEX "idx_routes_version" ON "routes"("version_id");
CREATE INDEX "idx_heal_runs_workflow" ON "heal_runs"("workflow_id");
CREATE INDEX "idx_heal_runs_tool" ON "heal_runs"("tool_id");
CREATE INDEX "idx_heal_runs_status" ON "heal_runs"("status");

-- Foreign keys
ALTER TABLE "tool_lineage" ADD CONSTRAINT "tool_lineage_regenerated_from_fkey" FOREIGN KEY ("regenerated_from") REFERENCES "tool_lineage"("tool_id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "lineage_relationships" ADD CONSTRAINT "lineage_relationships_child_id_fkey" FOREIGN KEY ("child_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "lineage_relationships" ADD CONSTRAINT "lineage_relationships_parent_id_fkey" FOREIGN KEY ("parent_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "mutations" ADD CONSTRAINT "mutations_tool_id_fkey" FOREIGN KEY ("tool_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "failures" ADD CONSTRAINT "failures_tool_id_fkey" FOREIGN KEY ("tool_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "avoidance_rules" ADD CONSTRAINT "avoidance_rules_source_failure_fkey" FOREIGN KEY ("source_failure") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "rule_inheritance" ADD CONSTRAINT "rule_inheritance_tool_id_fkey" FOREIGN KEY ("tool_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "rule_inheritance" ADD CONSTRAINT "rule_inheritance_rule_id_fkey" FOREIGN KEY ("rule_id") REFERENCES "avoidance_rules"("rule_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "fitness_history" ADD CONSTRAINT "fitness_history_tool_id_fkey" FOREIGN KEY ("tool_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "executions" ADD CONSTRAINT "executions_tool_id_fkey" FOREIGN KEY ("tool_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "test_cases" ADD CONSTRAINT "test_cases_tool_id_fkey" FOREIGN KEY ("tool_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "test_cases" ADD CONSTRAINT "test_cases_source_failure_id_fkey" FOREIGN KEY ("source_failure_id") REFERENCES "failures"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "routes" ADD CONSTRAINT "routes_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "heal_runs" ADD CONSTRAINT "heal_runs_tool_id_fkey" FOREIGN KEY ("tool_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
