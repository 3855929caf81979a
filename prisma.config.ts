import { defineConfig } from 'prisma/config';

// Migrations are applied by our own runner (src/db/migrate.ts); the URL here serves ordinary Prisma tooling elsewhere.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost/climbiq' },
});
