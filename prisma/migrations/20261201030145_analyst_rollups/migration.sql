-- CreateTable
CREATE TABLE "session_quality_days" (
    "day" DATE NOT NULL,
    "quality" INTEGER NOT NULL,
    "sessions" INTEGER NOT NULL,

    CONSTRAINT "session_quality_days_pkey" PRIMARY KEY ("day","quality")
);

-- CreateTable
CREATE TABLE "session_rule_days" (
    "day" DATE NOT NULL,
    "rule" TEXT NOT NULL,
    "quality" INTEGER NOT NULL,
    "sessions" INTEGER NOT NULL,

    CONSTRAINT "session_rule_days_pkey" PRIMARY KEY ("day","rule","quality")
);

-- CreateIndex
CREATE INDEX "climbing_sessions_startedAt_idx" ON "climbing_sessions"("startedAt");

-- Rollup maintenance (hand-written: Prisma does not model triggers). The trigger bodies are E'' strings with \073
-- for each semicolon: Prisma's pg driver adapter applies a migration by splitting it at every semicolon. A session counts while COMPLETED with a
-- quality, on the UTC day of startedAt, and per rule through the rules its linked recommendation matched (a stored
-- recommendation never changes). Inserts and updates: statement-level triggers with transition tables, one
-- aggregated upsert per statement, so a bulk INSERT ... SELECT costs one pass, not one per row.
-- Deletes: the per-rule part runs per row BEFORE the row goes, while the session and its recommendation are
-- both still visible: AFTER triggers of a cascade (deleting a user deletes both) fire only once both are gone.
CREATE FUNCTION "session_quality_add"(days DATE[], qualities INTEGER[], signs INTEGER[])
RETURNS VOID LANGUAGE sql AS $$
  -- ORDER BY: concurrent statements take the rollup rows' locks in one order, so they cannot deadlock.
  INSERT INTO "session_quality_days" AS t ("day", "quality", "sessions")
  SELECT d.day, d.quality, sum(d.sign) FROM unnest(days, qualities, signs) AS d(day, quality, sign)
  GROUP BY 1, 2 HAVING sum(d.sign) <> 0 ORDER BY 1, 2
  ON CONFLICT ("day", "quality") DO UPDATE SET "sessions" = t."sessions" + EXCLUDED."sessions"
$$;

CREATE FUNCTION "session_rules_add"(days DATE[], qualities INTEGER[], recommendation_ids UUID[], signs INTEGER[])
RETURNS VOID LANGUAGE sql AS $$
  INSERT INTO "session_rule_days" AS t ("day", "rule", "quality", "sessions")
  SELECT d.day, r.rule, d.quality, sum(d.sign)
  FROM unnest(days, qualities, recommendation_ids, signs) AS d(day, quality, rec, sign)
  JOIN "recommendations" rec ON rec."id" = d.rec
  CROSS JOIN LATERAL unnest(rec."matchedRules") AS r(rule)
  GROUP BY 1, 2, 3 HAVING sum(d.sign) <> 0 ORDER BY 1, 2, 3
  ON CONFLICT ("day", "rule", "quality") DO UPDATE SET "sessions" = t."sessions" + EXCLUDED."sessions"
$$;

CREATE FUNCTION "session_rollup_trigger"() RETURNS TRIGGER LANGUAGE plpgsql AS E'
BEGIN
  IF TG_OP = \'INSERT\' THEN
    PERFORM "session_quality_add"(array_agg(n."startedAt"::date), array_agg(n."sessionQuality"), array_agg(1)),
            "session_rules_add"(array_agg(n."startedAt"::date), array_agg(n."sessionQuality"), array_agg(n."recommendationId"), array_agg(1))
    FROM new_rows n WHERE n."status" = \'COMPLETED\' AND n."sessionQuality" IS NOT NULL HAVING count(*) > 0\073
  ELSIF TG_OP = \'DELETE\' THEN
    PERFORM "session_quality_add"(array_agg(o."startedAt"::date), array_agg(o."sessionQuality"), array_agg(-1))
    FROM old_rows o WHERE o."status" = \'COMPLETED\' AND o."sessionQuality" IS NOT NULL HAVING count(*) > 0\073
  ELSE
    -- Only rows whose counted values changed (most updates touch other columns).
    PERFORM "session_quality_add"(array_agg(c.day), array_agg(c.quality), array_agg(c.sign)),
            "session_rules_add"(array_agg(c.day), array_agg(c.quality), array_agg(c.rec), array_agg(c.sign))
    FROM (
      SELECT x.day, x.quality, x.rec, x.sign
      FROM old_rows o JOIN new_rows n ON n."id" = o."id"
      CROSS JOIN LATERAL (VALUES
        (o."startedAt"::date, o."sessionQuality", o."recommendationId", -1, o."status"),
        (n."startedAt"::date, n."sessionQuality", n."recommendationId", 1, n."status")
      ) AS x(day, quality, rec, sign, status)
      WHERE (o."status", o."sessionQuality", o."startedAt"::date, o."recommendationId")
            IS DISTINCT FROM (n."status", n."sessionQuality", n."startedAt"::date, n."recommendationId")
        AND x.status = \'COMPLETED\' AND x.quality IS NOT NULL
    ) c HAVING count(*) > 0\073
  END IF\073
  RETURN NULL\073
END ';

-- Whichever of a linked session and its recommendation is deleted first takes the session out of the per-rule
-- rollup (the other then no longer sees it).
CREATE FUNCTION "session_rules_before_delete"() RETURNS TRIGGER LANGUAGE plpgsql AS E'
BEGIN
  IF TG_TABLE_NAME = \'climbing_sessions\' THEN
    IF OLD."status" = \'COMPLETED\' AND OLD."sessionQuality" IS NOT NULL AND OLD."recommendationId" IS NOT NULL THEN
      PERFORM "session_rules_add"(ARRAY[OLD."startedAt"::date], ARRAY[OLD."sessionQuality"], ARRAY[OLD."recommendationId"], ARRAY[-1])\073
    END IF\073
  ELSE
    PERFORM "session_rules_add"(ARRAY[s."startedAt"::date], ARRAY[s."sessionQuality"], ARRAY[OLD."id"], ARRAY[-1])
    FROM "climbing_sessions" s WHERE s."recommendationId" = OLD."id" AND s."status" = \'COMPLETED\' AND s."sessionQuality" IS NOT NULL\073
  END IF\073
  RETURN OLD\073
END ';

CREATE TRIGGER "climbing_sessions_rollup_insert" AFTER INSERT ON "climbing_sessions"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "session_rollup_trigger"();
CREATE TRIGGER "climbing_sessions_rollup_update" AFTER UPDATE ON "climbing_sessions"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "session_rollup_trigger"();
CREATE TRIGGER "climbing_sessions_rollup_delete" AFTER DELETE ON "climbing_sessions"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "session_rollup_trigger"();
CREATE TRIGGER "climbing_sessions_rules_delete" BEFORE DELETE ON "climbing_sessions"
  FOR EACH ROW EXECUTE FUNCTION "session_rules_before_delete"();
CREATE TRIGGER "recommendations_rules_delete" BEFORE DELETE ON "recommendations"
  FOR EACH ROW EXECUTE FUNCTION "session_rules_before_delete"();

-- Sessions already stored.
INSERT INTO "session_quality_days" ("day", "quality", "sessions")
SELECT "startedAt"::date, "sessionQuality", count(*) FROM "climbing_sessions"
WHERE "status" = 'COMPLETED' AND "sessionQuality" IS NOT NULL GROUP BY 1, 2;

INSERT INTO "session_rule_days" ("day", "rule", "quality", "sessions")
SELECT s."startedAt"::date, r.rule, s."sessionQuality", count(*)
FROM "climbing_sessions" s JOIN "recommendations" rec ON rec."id" = s."recommendationId"
CROSS JOIN LATERAL unnest(rec."matchedRules") AS r(rule)
WHERE s."status" = 'COMPLETED' AND s."sessionQuality" IS NOT NULL GROUP BY 1, 2, 3;
