-- Healing: which heal created a version (idempotent promotion after a crash), the evidence behind a
-- prune decision, and trigram similarity for propagating rules to similar tools.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE "tool_lineage" ADD COLUMN "heal_id" VARCHAR(255);
ALTER TABLE "tool_lineage" ADD COLUMN "prune_evidence" JSONB;
CREATE UNIQUE INDEX "uq_lineage_heal_id" ON "tool_lineage"("heal_id");
