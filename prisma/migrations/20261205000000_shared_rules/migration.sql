-- Installations share what they learned. A local rule remembers the heal that learned it (its healed
-- version is the valid example of the portable document), when it last changed and when it was
-- withdrawn (a withdrawn rule stops gating, and the withdrawal travels in the next pack).
ALTER TABLE "avoidance_rules" ADD COLUMN "heal_id" VARCHAR(255);
ALTER TABLE "avoidance_rules" ADD COLUMN "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE "avoidance_rules" ADD COLUMN "withdrawn_at" TIMESTAMPTZ(3);

-- The public keys whose packs this installation accepts (`dise rules trust`).
CREATE TABLE "trusted_rule_keys" (
    "key_id" VARCHAR(64) NOT NULL,
    "public_key" TEXT NOT NULL,
    "added_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "trusted_rule_keys_pkey" PRIMARY KEY ("key_id")
);

-- Rules received from other installations: the portable document as received, its pattern for the
-- gate, and its quarantine (report_only until enough clean registrations or an operator's word).
CREATE TABLE "imported_rules" (
    "rule_id" VARCHAR(255) NOT NULL,
    "language" VARCHAR(20) NOT NULL,
    "pattern_kind" VARCHAR(20) NOT NULL,
    "pattern" TEXT NOT NULL,
    "pattern_hash" VARCHAR(64) NOT NULL,
    "description" TEXT NOT NULL,
    "document" JSONB NOT NULL,
    "modified_at" TIMESTAMPTZ(3) NOT NULL,
    "withdrawn" BOOLEAN NOT NULL DEFAULT false,
    "mode" VARCHAR(20) NOT NULL DEFAULT 'report_only',
    "clean_registrations" INTEGER NOT NULL DEFAULT 0,
    "reported_matches" INTEGER NOT NULL DEFAULT 0,
    "key_id" VARCHAR(64) NOT NULL,
    "installation_id" VARCHAR(255) NOT NULL,
    "source" VARCHAR(1000) NOT NULL,
    "imported_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "promoted_at" TIMESTAMPTZ(3),
    "promoted_by" VARCHAR(20),
    CONSTRAINT "imported_rules_pkey" PRIMARY KEY ("rule_id")
);
-- Deduplication by pattern looks rules up by it (a withdrawn rule does not hold its pattern).
CREATE INDEX "idx_imported_rules_pattern" ON "imported_rules"("language", "pattern_kind", "pattern_hash");

-- What a report-only rule matched at registration: the evidence an operator reads before promoting it.
CREATE TABLE "imported_rule_reports" (
    "id" SERIAL NOT NULL,
    "rule_id" VARCHAR(255) NOT NULL,
    "tool_id" VARCHAR(255) NOT NULL,
    "line" INTEGER NOT NULL,
    "excerpt" TEXT NOT NULL,
    "passed_otherwise" BOOLEAN NOT NULL,
    "reported_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "imported_rule_reports_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "imported_rule_reports_rule_id_fkey" FOREIGN KEY ("rule_id") REFERENCES "imported_rules"("rule_id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "idx_imported_rule_reports_rule" ON "imported_rule_reports"("rule_id");
