-- CreateEnum
CREATE TYPE "CoachLinkEventKind" AS ENUM ('INVITED', 'ACCEPTED', 'ENDED');

-- CreateTable
CREATE TABLE "coach_invitations" (
    "id" UUID NOT NULL,
    "athleteId" UUID NOT NULL,
    "codeHash" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "usedAt" TIMESTAMP(3),
    "usedById" UUID,

    CONSTRAINT "coach_invitations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "coach_links" (
    "id" UUID NOT NULL,
    "coachId" UUID NOT NULL,
    "athleteId" UUID NOT NULL,
    "invitationId" UUID,
    "since" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "endedAt" TIMESTAMP(3),
    "endedById" UUID,

    CONSTRAINT "coach_links_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "coach_link_events" (
    "id" UUID NOT NULL,
    "kind" "CoachLinkEventKind" NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "athleteId" UUID NOT NULL,
    "coachId" UUID,
    "actorId" UUID,
    "linkId" UUID,
    "invitationId" UUID,

    CONSTRAINT "coach_link_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "coach_notes" (
    "id" UUID NOT NULL,
    "sessionId" UUID NOT NULL,
    "coachId" UUID,
    "text" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "coach_notes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "coach_invitations_codeHash_key" ON "coach_invitations"("codeHash");

-- CreateIndex
CREATE INDEX "coach_invitations_athleteId_createdAt_idx" ON "coach_invitations"("athleteId", "createdAt" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "coach_links_invitationId_key" ON "coach_links"("invitationId");

-- CreateIndex
CREATE INDEX "coach_links_coachId_endedAt_idx" ON "coach_links"("coachId", "endedAt");

-- CreateIndex
CREATE INDEX "coach_links_athleteId_endedAt_idx" ON "coach_links"("athleteId", "endedAt");

-- CreateIndex
CREATE UNIQUE INDEX "coach_links_since_id_key" ON "coach_links"("since", "id");

-- CreateIndex
CREATE INDEX "coach_link_events_athleteId_at_idx" ON "coach_link_events"("athleteId", "at" DESC);

-- CreateIndex
CREATE INDEX "coach_link_events_coachId_at_idx" ON "coach_link_events"("coachId", "at" DESC);

-- CreateIndex
CREATE INDEX "coach_notes_sessionId_createdAt_idx" ON "coach_notes"("sessionId", "createdAt");

-- AddForeignKey
ALTER TABLE "coach_invitations" ADD CONSTRAINT "coach_invitations_athleteId_fkey" FOREIGN KEY ("athleteId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "coach_invitations" ADD CONSTRAINT "coach_invitations_usedById_fkey" FOREIGN KEY ("usedById") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "coach_links" ADD CONSTRAINT "coach_links_coachId_fkey" FOREIGN KEY ("coachId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "coach_links" ADD CONSTRAINT "coach_links_athleteId_fkey" FOREIGN KEY ("athleteId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "coach_links" ADD CONSTRAINT "coach_links_invitationId_fkey" FOREIGN KEY ("invitationId") REFERENCES "coach_invitations"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "coach_links" ADD CONSTRAINT "coach_links_endedById_fkey" FOREIGN KEY ("endedById") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "coach_link_events" ADD CONSTRAINT "coach_link_events_athleteId_fkey" FOREIGN KEY ("athleteId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "coach_link_events" ADD CONSTRAINT "coach_link_events_coachId_fkey" FOREIGN KEY ("coachId") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "coach_link_events" ADD CONSTRAINT "coach_link_events_actorId_fkey" FOREIGN KEY ("actorId") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "coach_link_events" ADD CONSTRAINT "coach_link_events_linkId_fkey" FOREIGN KEY ("linkId") REFERENCES "coach_links"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "coach_notes" ADD CONSTRAINT "coach_notes_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "climbing_sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "coach_notes" ADD CONSTRAINT "coach_notes_coachId_fkey" FOREIGN KEY ("coachId") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;
