-- A heal that ends unhealed can leave callers on a version known to be wrong (the only version of a
-- tool, or one whose every ancestor fails too). The route then says so: why it is known wrong, and
-- the healthy alternative (a version of another tool of the same category, with a similar
-- description, that passes the failing inputs) that answers its callers instead, if any.
-- Moving the route clears both.
ALTER TABLE "routes" ADD COLUMN "known_wrong" TEXT;
ALTER TABLE "routes" ADD COLUMN "alternative_id" VARCHAR(255);
