-- The jsonb columns of a stored recommendation compressed with lz4 instead of pglz where the server has it (the
-- PostgreSQL servers of Debian and the official images do): a row over the toast_tuple_target of 3,000 bytes has its
-- statistical context compressed on every insert, and pglz cost about 10 µs of the backend a row more than lz4
-- (BENCHMARKS.md "Issue 19, ninth round"), for about 8 % more space. PGlite is built without lz4 and keeps pglz
-- (feature_not_supported, caught). Rows written before keep their compression, and every reader reads both.
-- Column compression is a PostgreSQL setting the Prisma schema does not describe: nothing to change in schema.prisma.
-- (\073 is the semicolon inside the block: the migration runners split a script at every semicolon.)
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
