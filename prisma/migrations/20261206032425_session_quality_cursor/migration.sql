-- The sessions' QUALITY order (sessionQuality, startedAt, id) as a unique key: its cursors carry the three values,
-- so a page after a deleted session is placed by them. It cannot fail on existing rows (id alone is unique), and
-- it serves what the sessionQuality index did.
-- DropIndex
DROP INDEX "climbing_sessions_sessionQuality_idx";

-- CreateIndex
CREATE UNIQUE INDEX "climbing_sessions_sessionQuality_startedAt_id_key" ON "climbing_sessions"("sessionQuality", "startedAt", "id");
