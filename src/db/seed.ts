// Seed data (priors of domain.md section 5, rules of section 4) from the data files under prisma/seed,
// inserted at startup when missing; rows that already exist (edited by an admin or not) are never overwritten.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { validateRuleDefinition, type RuleDefinitionInput } from '../engine/rules.ts';
import { SEED_PRIORS } from '../engine/variables.ts';
import type { Prisma, PrismaClient } from '../generated/prisma/client.ts';
import { PRISMA_DIR } from './schema-engine.ts';
import type { SqlRunner } from './sql.ts';

export async function loadSeedRules(): Promise<RuleDefinitionInput[]> {
  const text = await readFile(path.join(PRISMA_DIR, 'seed', 'expert-rules.json'), 'utf8');
  return JSON.parse(text) as RuleDefinitionInput[];
}

/**
 * Whether every seed prior and rule is already in the database (by its unique variable / name): one raw statement,
 * so an open that finds them (every one after the first) compiles and runs no Prisma insert. The seed rules are
 * validated all the same: a broken seed file fails loudly at every start.
 */
export async function seedPresent(sql: SqlRunner): Promise<boolean> {
  const names = (await loadSeedRules()).map((raw) => validateRuleDefinition(raw).name);
  const [row] = await sql.query<{ priors: number; rules: number }>(
    `SELECT (SELECT count(*) FROM population_priors WHERE variable = ANY($1::text[]))::int AS priors,
            (SELECT count(*) FROM expert_rules WHERE name = ANY($2::text[]))::int AS rules`,
    [SEED_PRIORS.map((p) => p.variable), names],
  );
  return row.priors === SEED_PRIORS.length && row.rules === names.length;
}

export async function seedReferenceData(prisma: PrismaClient): Promise<{ priors: number; rules: number }> {
  const priors = await prisma.populationPrior.createMany({
    data: SEED_PRIORS.map((p) => ({
      variable: p.variable,
      populationMean: p.populationMean,
      populationStd: p.populationStd,
      individualVariance: p.individualVariance ?? null,
      referenceValue: p.referenceValue ?? null,
      effectDirection: p.effectDirection ?? null,
      category: p.category ?? null,
      confidence: p.confidence ?? null,
      source: p.source ?? null,
      literatureRefs: p.literatureRefs,
      description: p.description ?? null,
      optimalMin: p.optimalMin ?? null,
      optimalMax: p.optimalMax ?? null,
      isActive: p.isActive,
    })),
    skipDuplicates: true,
  });
  const seedRules = await loadSeedRules();
  const rules = await prisma.expertRule.createMany({
    data: seedRules.map((raw) => {
      const rule = validateRuleDefinition(raw); // a broken seed file fails loudly at startup
      return {
        name: rule.name,
        description: rule.description,
        category: rule.category,
        priority: rule.priority,
        conditions: rule.conditions as Prisma.InputJsonValue,
        actions: rule.actions as unknown as Prisma.InputJsonValue,
        confidence: typeof raw.confidence === 'string' ? raw.confidence : null,
        source: rule.source ?? null,
        evidence: rule.evidence ?? null,
        isActive: raw.isActive !== false,
      };
    }),
    skipDuplicates: true,
  });
  return { priors: priors.count, rules: rules.count };
}
