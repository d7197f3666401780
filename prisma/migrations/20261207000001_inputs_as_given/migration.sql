-- Inputs, expected answers and reported evidence are kept as the text they were given: `json`
-- instead of `jsonb`, which reorders object keys, drops duplicate keys and rewrites numbers. A tool
-- whose answer depends on key order (Python's list(d.keys()), JavaScript's Object.keys) is then
-- judged at registration, replayed and compared on the same input its caller sends. `json` keeps
-- the -> and ->> operators; none of these columns is compared, grouped or indexed as jsonb.
-- Rows already stored keep the order jsonb gave them.
ALTER TABLE "test_cases" ALTER COLUMN "input" SET DATA TYPE JSON USING "input"::json,
    ALTER COLUMN "expected" SET DATA TYPE JSON USING "expected"::json;

ALTER TABLE "executions" ALTER COLUMN "input" SET DATA TYPE JSON USING "input"::json;

ALTER TABLE "input_samples" ALTER COLUMN "input" SET DATA TYPE JSON USING "input"::json;

ALTER TABLE "canary_comparisons" ALTER COLUMN "input" SET DATA TYPE JSON USING "input"::json,
    ALTER COLUMN "stable_output" SET DATA TYPE JSON USING "stable_output"::json,
    ALTER COLUMN "candidate_output" SET DATA TYPE JSON USING "candidate_output"::json;

ALTER TABLE "failures" ALTER COLUMN "evidence" SET DATA TYPE JSON USING "evidence"::json;
