-- executions is an append-only log written by every runtime process at once. Its foreign key made
-- each INSERT share-lock the versions it names; with many runtimes those locks became multixacts on
-- the same few hot tool_lineage rows, and bench:load showed the writers queueing on them. Versions
-- are never deleted, and the runtime only records versions it has just resolved, so the key guarded
-- nothing that can happen.
ALTER TABLE "executions" DROP CONSTRAINT "executions_tool_id_fkey";
