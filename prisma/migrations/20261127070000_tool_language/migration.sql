-- Python tools (issue 17): every version names the language of its code. Existing versions are
-- JavaScript, the only language there was.
ALTER TABLE "tool_lineage" ADD COLUMN "language" VARCHAR(20) NOT NULL DEFAULT 'javascript';
ALTER TABLE "tool_lineage" ADD CONSTRAINT "tool_lineage_language_check" CHECK ("language" IN ('javascript', 'python'));
