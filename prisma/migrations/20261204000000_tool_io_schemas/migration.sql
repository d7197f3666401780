-- Tools served over MCP describe their arguments and results: the JSON Schemas a manifest declares
-- (input_schema, output_schema). NULL when none was declared; the MCP server then infers the input
-- schema from the tool's test inputs.
ALTER TABLE "tool_lineage" ADD COLUMN "input_schema" JSONB;
ALTER TABLE "tool_lineage" ADD COLUMN "output_schema" JSONB;
