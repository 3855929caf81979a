-- A stored recommendation's coefficient comparison set and history summary are no longer checked by foreign keys:
-- each check cost PGlite's thread about 13 µs a stored answer (BENCHMARKS.md, issue 19 step 144). Both tables are
-- append-only, content-addressed and written in the same statement as the rows naming them, nothing deletes from them.
-- Dropping a constraint takes a brief ACCESS EXCLUSIVE lock and reads no rows.

-- DropForeignKey
ALTER TABLE "recommendations" DROP CONSTRAINT "recommendations_coefficientComparisonsId_fkey";

-- DropForeignKey
ALTER TABLE "recommendations" DROP CONSTRAINT "recommendations_personalHistoryId_fkey";
