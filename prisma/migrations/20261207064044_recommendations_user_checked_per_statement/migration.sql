-- A stored recommendation's athlete is checked once per statement, for the statement's distinct athletes, by a
-- statement-level trigger over the inserted rows, instead of by the foreign key's check of every row (each check an
-- SPI query with an executor of its own, about 17 µs of PGlite's thread a stored answer: the trigger costs 5-12 µs a
-- row less on PGlite and 1-3 less on PostgreSQL with many rows a statement, 40-70 µs more for a statement of one row,
-- BENCHMARKS.md issue 19 step 190). The integrity stays what the foreign key kept:
-- a row naming no athlete is refused (the statement fails with foreign_key_violation), the athletes' rows are locked
-- FOR KEY SHARE as the foreign key's check locks them (so an athlete deleted meanwhile either waits for the insert and
-- then takes its rows along, or makes the insert fail), and deleting an athlete deletes their recommendations (a
-- trigger on users, as ON DELETE CASCADE did), changing an athlete's id moves them (ON UPDATE CASCADE).
-- Not kept: TRUNCATE of users alone is no longer refused (nothing in ClimbIQ truncates).
-- Triggers are PostgreSQL objects the Prisma schema does not describe (as the rollups' are).
-- Dropping a constraint and creating triggers take a brief ACCESS EXCLUSIVE lock and read no rows.
-- (\073 is the semicolon inside a function's body: the migration runners split a script at every semicolon.)

-- DropForeignKey
ALTER TABLE "recommendations" DROP CONSTRAINT "recommendations_userId_fkey";

CREATE FUNCTION "recommendations_user_check"() RETURNS TRIGGER LANGUAGE plpgsql AS E'
DECLARE
  missing UUID\073
BEGIN
  SELECT n."userId" INTO missing FROM (SELECT DISTINCT "userId" FROM new_rows) n
  WHERE NOT EXISTS (SELECT 1 FROM "users" u WHERE u."id" = n."userId" FOR KEY SHARE OF u)
  LIMIT 1\073
  IF FOUND THEN
    RAISE foreign_key_violation USING
      MESSAGE = \'insert or update on table "recommendations" violates foreign key check "recommendations_user_check"\',
      DETAIL = format(\'Key ("userId")=(%s) is not present in table "users".\', missing),
      TABLE = \'recommendations\', COLUMN = \'userId\', CONSTRAINT = \'recommendations_user_check\'\073
  END IF\073
  RETURN NULL\073
END';

CREATE TRIGGER "recommendations_user_check_insert" AFTER INSERT ON "recommendations"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "recommendations_user_check"();
CREATE TRIGGER "recommendations_user_check_update" AFTER UPDATE ON "recommendations"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "recommendations_user_check"();

CREATE FUNCTION "users_recommendations_delete"() RETURNS TRIGGER LANGUAGE plpgsql AS E'
BEGIN
  DELETE FROM "recommendations" r USING old_rows o WHERE r."userId" = o."id"\073
  RETURN NULL\073
END';

CREATE TRIGGER "users_recommendations_delete" AFTER DELETE ON "users"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "users_recommendations_delete"();

CREATE FUNCTION "users_recommendations_update"() RETURNS TRIGGER LANGUAGE plpgsql AS E'
BEGIN
  UPDATE "recommendations" SET "userId" = NEW."id" WHERE "userId" = OLD."id"\073
  RETURN NULL\073
END';

CREATE TRIGGER "users_recommendations_update" AFTER UPDATE OF "id" ON "users"
  FOR EACH ROW WHEN (OLD."id" IS DISTINCT FROM NEW."id") EXECUTE FUNCTION "users_recommendations_update"();
