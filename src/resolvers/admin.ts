// Admin writes (the fields' authScopes admit admins only): expert rules and population priors. Validated before anything is written; caches dropped after.
import type { Context } from '../context.ts';
import { badInput, notFound } from '../errors.ts';
import { RuleValidationError, validateRuleDefinition } from '../engine/rules.ts';
import { CHECK_IN_VARIABLES, TERM_NAMES } from '../engine/variables.ts';
import type { Prisma } from '../generated/prisma/client.ts';

export interface ExpertRuleInput {
  name: string;
  description: string;
  conditions: unknown;
  actions: unknown;
  category: string;
  priority: number;
  confidence?: string | null;
  source?: string | null;
  evidence?: string | null;
  isActive?: boolean | null;
  expiresAt?: Date | null;
  supersededBy?: string | null;
}

export async function upsertExpertRule(ctx: Context, input: ExpertRuleInput, query: { include?: Prisma.ExpertRuleInclude; select?: Prisma.ExpertRuleSelect }) {
  let rule: ReturnType<typeof validateRuleDefinition>;
  try {
    rule = validateRuleDefinition(input);
  } catch (err) {
    if (err instanceof RuleValidationError) throw badInput(err.path, `Invalid rule: ${err.message}`);
    throw err;
  }
  const { prisma } = ctx.services;
  let supersededById: string | null = null;
  if (input.supersededBy) {
    if (input.supersededBy === rule.name) throw badInput('supersededBy', 'A rule cannot supersede itself');
    const successor = await prisma.expertRule.findUnique({ where: { name: input.supersededBy }, select: { id: true } });
    if (!successor) throw badInput('supersededBy', `No rule named ${input.supersededBy}`);
    supersededById = successor.id;
  }
  const data = {
    description: rule.description,
    conditions: rule.conditions as Prisma.InputJsonValue,
    actions: rule.actions as unknown as Prisma.InputJsonValue,
    category: rule.category,
    priority: rule.priority,
    confidence: input.confidence ?? null,
    source: input.source ?? null,
    evidence: input.evidence ?? null,
    isActive: input.isActive ?? true,
    expiresAt: input.expiresAt ?? null,
    supersededById,
    editedByAdmin: true,
  };
  const saved = await prisma.expertRule.upsert({ ...query, where: { name: rule.name }, create: { name: rule.name, ...data }, update: data });
  ctx.services.engine.invalidate({ kind: 'rules' });
  return saved;
}

export async function setExpertRuleActive(ctx: Context, name: string, active: boolean, query: { include?: Prisma.ExpertRuleInclude; select?: Prisma.ExpertRuleSelect }) {
  const { prisma } = ctx.services;
  const existing = await prisma.expertRule.findUnique({ where: { name }, select: { id: true } });
  if (!existing) throw notFound(`Rule ${name}`);
  const saved = await prisma.expertRule.update({ ...query, where: { name }, data: { isActive: active, editedByAdmin: true } });
  ctx.services.engine.invalidate({ kind: 'rules' });
  return saved;
}

export interface PopulationPriorInput {
  variable: string;
  populationMean: number;
  populationStd: number;
  individualVariance?: number | null;
  effectDirection?: string | null;
  category?: string | null;
  confidence?: string | null;
  source?: string | null;
  literatureRefs?: string[] | null;
  description?: string | null;
  optimalMin?: number | null;
  optimalMax?: number | null;
  isActive?: boolean | null;
}

const PRIOR_VARIABLES = new Set<string>([...TERM_NAMES, ...CHECK_IN_VARIABLES.map((v) => v.name)]);

export async function upsertPopulationPrior(ctx: Context, input: PopulationPriorInput, query: { select?: Prisma.PopulationPriorSelect }) {
  if (!PRIOR_VARIABLES.has(input.variable)) {
    throw badInput('variable', `Unknown variable "${input.variable}": use intercept or a check-in variable name (e.g. sleepHours)`);
  }
  if (!Number.isFinite(input.populationMean)) throw badInput('populationMean', 'populationMean must be a finite number');
  if (!(input.populationStd > 0)) throw badInput('populationStd', 'populationStd must be greater than 0');
  if (input.individualVariance != null && !(input.individualVariance > 0)) throw badInput('individualVariance', 'individualVariance must be greater than 0');
  if (TERM_NAMES.includes(input.variable) && input.individualVariance === null) {
    throw badInput('individualVariance', 'individualVariance is required for a model feature');
  }
  if (input.optimalMin != null && input.optimalMax != null && input.optimalMin > input.optimalMax) {
    throw badInput('optimalMin', 'optimalMin must not exceed optimalMax');
  }
  const data = {
    populationMean: input.populationMean,
    populationStd: input.populationStd,
    individualVariance: input.individualVariance ?? undefined,
    effectDirection: input.effectDirection ?? undefined,
    category: input.category ?? undefined,
    confidence: input.confidence ?? undefined,
    source: input.source ?? undefined,
    literatureRefs: input.literatureRefs ?? undefined,
    description: input.description ?? undefined,
    optimalMin: input.optimalMin ?? undefined,
    optimalMax: input.optimalMax ?? undefined,
    isActive: input.isActive ?? undefined,
    editedByAdmin: true,
  };
  const saved = await ctx.services.prisma.populationPrior.upsert({
    ...query,
    where: { variable: input.variable },
    create: { variable: input.variable, ...data, literatureRefs: input.literatureRefs ?? [] },
    update: data,
  });
  ctx.services.engine.invalidate({ kind: 'priors' });
  return saved;
}
