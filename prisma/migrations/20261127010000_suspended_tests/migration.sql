-- A revert heal keeps the failed version's whole suite except the tests the culprit introduced that
-- encode its bug (the healthy ancestor fails them). Those are suspended for the healed version and,
-- through it, for its descendants: a version's suite leaves out every test suspended at the version
-- itself or at any of its ancestors. The culprit's own suite is untouched.
CREATE TABLE "suspended_tests" (
    "version_id" VARCHAR(255) NOT NULL,
    "test_id" INTEGER NOT NULL,
    "heal_id" VARCHAR(255) NOT NULL,
    "reason" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "suspended_tests_pkey" PRIMARY KEY ("version_id", "test_id")
);

CREATE INDEX "idx_suspended_tests_test" ON "suspended_tests"("test_id");

ALTER TABLE "suspended_tests" ADD CONSTRAINT "suspended_tests_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "tool_lineage"("tool_id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "suspended_tests" ADD CONSTRAINT "suspended_tests_test_id_fkey" FOREIGN KEY ("test_id") REFERENCES "test_cases"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
