-- The gate keeps the imported rules in memory between registrations. One row counts the changes
-- that alter what they gate (a rule imported, updated, promoted, withdrawn or deleted), whichever
-- process made them (a CLI import, a subscription's pull in the worker): a registration reads this
-- one row, and reads the rules again only when it moved. The row is transactional, so a reader never
-- sees a new generation before the change itself; its values come from a sequence, which never gives
-- one twice, so a generation a rolled-back change wrote and a cache read cannot come back later.
CREATE SEQUENCE "imported_rules_generation_seq";
CREATE TABLE "imported_rules_generation" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "generation" BIGINT NOT NULL DEFAULT 0,
    "changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "imported_rules_generation_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "imported_rules_generation_one_row" CHECK ("id" = 1)
);
INSERT INTO "imported_rules_generation" ("id", "generation") VALUES (1, 0);

CREATE OR REPLACE FUNCTION dise_imported_rules_changed() RETURNS trigger AS $$
BEGIN
  UPDATE "imported_rules_generation" SET "generation" = nextval('imported_rules_generation_seq'), "changed_at" = now() WHERE "id" = 1;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

-- An update counts only when it changes what the gate reads: a registration's quarantine counters
-- (clean_registrations, reported_matches) change at every registration and leave the gate as it was.
CREATE OR REPLACE FUNCTION dise_imported_rules_updated() RETURNS trigger AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM new_rows n LEFT JOIN old_rows o ON o."rule_id" = n."rule_id"
    WHERE o."rule_id" IS NULL
       OR o."mode" IS DISTINCT FROM n."mode"
       OR o."withdrawn" IS DISTINCT FROM n."withdrawn"
       OR o."language" IS DISTINCT FROM n."language"
       OR o."pattern_kind" IS DISTINCT FROM n."pattern_kind"
       OR o."pattern" IS DISTINCT FROM n."pattern"
       OR o."description" IS DISTINCT FROM n."description"
       OR o."document" IS DISTINCT FROM n."document"
  ) THEN
    UPDATE "imported_rules_generation" SET "generation" = nextval('imported_rules_generation_seq'), "changed_at" = now() WHERE "id" = 1;
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER "imported_rules_generation_insert_delete"
  AFTER INSERT OR DELETE OR TRUNCATE ON "imported_rules"
  FOR EACH STATEMENT EXECUTE FUNCTION dise_imported_rules_changed();

CREATE TRIGGER "imported_rules_generation_update"
  AFTER UPDATE ON "imported_rules"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION dise_imported_rules_updated();
