-- A stored recommendation's six JSON columns (the check-in, the constraints, the warnings, the contributions, the
-- suggestions, the statistical context) as json instead of jsonb: the database keeps the text the writer sends,
-- checked as JSON on input, instead of parsing it into jsonb's binary form (every number through numeric_in, every
-- object's keys sorted) on every insert. Measured on the writer's rows (BENCHMARKS.md issue 19 steps 80 (d) and 270):
-- about a third less of the database's CPU a stored answer on PostgreSQL and a fifth to a third less on PGlite, and a
-- row takes about 13 % less room. Nothing in ClimbIQ reads these columns with jsonb's operators (the analyst's
-- aggregates read the typed columns, matchedRules and the rollups). Prisma reads json and jsonb alike, and an object's
-- keys now come back in the order they were written instead of jsonb's. Rows written before keep their content.
--
-- The change rewrites the table under an ACCESS EXCLUSIVE lock: every read and write of recommendations waits until
-- it is done (docs/operations.md "Upgrading": its duration as measured, and what to do on a large table). Both casts
-- between json and jsonb are assignment casts, so an instance still on the code before (its statement sends jsonb)
-- writes into the new columns, and a new instance into the old ones, during a rolling deploy.
ALTER TABLE "recommendations"
    ALTER COLUMN "checkIn" SET DATA TYPE JSON USING "checkIn"::json,
    ALTER COLUMN "constraints" SET DATA TYPE JSON USING "constraints"::json,
    ALTER COLUMN "warnings" SET DATA TYPE JSON USING "warnings"::json,
    ALTER COLUMN "contributions" SET DATA TYPE JSON USING "contributions"::json,
    ALTER COLUMN "suggestions" SET DATA TYPE JSON USING "suggestions"::json,
    ALTER COLUMN "statisticalContext" SET DATA TYPE JSON USING "statisticalContext"::json;

-- A new type resets a column's compression: lz4 again where the server has it (migration 20261207000500).
DO E'BEGIN
  ALTER TABLE "recommendations"
    ALTER COLUMN "statisticalContext" SET COMPRESSION lz4,
    ALTER COLUMN "contributions" SET COMPRESSION lz4,
    ALTER COLUMN "suggestions" SET COMPRESSION lz4,
    ALTER COLUMN "checkIn" SET COMPRESSION lz4,
    ALTER COLUMN "constraints" SET COMPRESSION lz4,
    ALTER COLUMN "warnings" SET COMPRESSION lz4\073
EXCEPTION WHEN feature_not_supported THEN NULL\073
END';
