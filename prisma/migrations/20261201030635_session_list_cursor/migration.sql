-- Session list cursors carry (startedAt, id) and page by those values (keyset). The id alone makes the pair unique.
CREATE UNIQUE INDEX "climbing_sessions_startedAt_id_key" ON "climbing_sessions"("startedAt", "id");
