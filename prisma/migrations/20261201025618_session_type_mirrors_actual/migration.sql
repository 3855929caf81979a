-- Data: a completed session's sessionType mirrors its actualSessionType. Corrections through updateSession
-- used to leave sessionType stale. Rows without an actualSessionType are left as they are.
UPDATE "climbing_sessions" SET "sessionType" = "actualSessionType"
WHERE "status" = 'COMPLETED' AND "actualSessionType" IS NOT NULL AND "sessionType" IS DISTINCT FROM "actualSessionType";
