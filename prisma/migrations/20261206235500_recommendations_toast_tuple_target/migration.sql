-- A stored recommendation is about 3.1 KB before compression (its jsonb columns 2.4 KB), over the default
-- toast_tuple_target of PostgreSQL (about 2 KB): every row had its jsonb columns compressed with pglz one after
-- another, and often one of them moved out of line to the TOAST table (a second heap insert and a TOAST index
-- insert), which cost 15-20 % of the CPU the database spends on a stored row, on PostgreSQL and PGlite alike
-- (BENCHMARKS.md "Issue 19, ninth round"). With 3,000 bytes, a row over it has its largest column (the statistical
-- context) compressed and fits: nothing goes out of line, and a row stays near a third of a page (heap and TOAST:
-- about 2.7 KB a row against 2.5 KB). Only rows written from now on. The plans of the readers are unchanged
-- (primary-key and (userId, createdAt) lookups). A storage parameter, which the Prisma schema does not describe:
-- nothing to change in schema.prisma.
ALTER TABLE "recommendations" SET (toast_tuple_target = 3000);
