-- The nightly run rewrites every athlete's model (about 2-3 KB each of covariance and sufficient statistics as
-- jsonb): stored out of line without pglz compression, the write of 3,000 models on PGlite took 0.8-1.0 s instead
-- of 2.2 s, and a served model's read needs no decompression (BENCHMARKS.md "npm run train end to end"). The
-- rows take about twice the space (some 5 KB more per athlete). Storage is a PostgreSQL setting Prisma's schema
-- does not describe: nothing to change in schema.prisma.
ALTER TABLE "model_outputs"
  ALTER COLUMN "coefficients" SET STORAGE EXTERNAL,
  ALTER COLUMN "credibleIntervals" SET STORAGE EXTERNAL,
  ALTER COLUMN "covariance" SET STORAGE EXTERNAL,
  ALTER COLUMN "sufficientStats" SET STORAGE EXTERNAL;
