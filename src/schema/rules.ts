import { z } from 'zod';
import type { Context } from '../context.ts';
import { upsertExpertRule, setExpertRuleActive, upsertPopulationPrior, type ExpertRuleInput, type PopulationPriorInput } from '../resolvers/admin.ts';
import { readsEveryone } from '../resolvers/access.ts';
import { builder } from './builder.ts';
import { RuleCategoryEnum } from './enums.ts';

// One text per field, shared by the output types and the admins' inputs.
const RULE_TEXT = {
  name: 'snake_case; an existing name updates that rule',
  description: 'What the rule is for (at most 2000 characters)',
  conditions: '{"all"|"any": [...]}, {"not": ...} or {"field","op","value"}',
  actions: 'List of {"type": "override"|"constrain"|"adjustPrediction", ...}',
  category: "The rule's category",
  priority: '0-100, higher first',
  confidence: 'How sure the evidence is, free text (at most 2000 characters)',
  source: 'Where the rule comes from, free text (at most 2000 characters)',
  evidence: 'The evidence behind it, free text (at most 2000 characters)',
  isActive: 'Is the rule evaluated? (default true)',
  expiresAt: 'The rule stops applying after this instant; null: never',
  supersededBy: 'The rule that replaces this one; a superseded rule is not evaluated',
} as const;

builder.prismaObject('ExpertRule', {
  description: 'An expert rule: JSON conditions over check-in (and baseline.*) variables, and actions',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The rule id (uuid)' }),
    name: t.exposeString('name', { description: 'The unique rule name (snake_case)' }),
    description: t.exposeString('description', { description: RULE_TEXT.description }),
    conditions: t.expose('conditions', { type: 'JSON', description: RULE_TEXT.conditions }),
    actions: t.expose('actions', { type: 'JSON', description: RULE_TEXT.actions }),
    category: t.expose('category', { type: RuleCategoryEnum, description: RULE_TEXT.category }),
    priority: t.exposeInt('priority', { description: RULE_TEXT.priority }),
    confidence: t.exposeString('confidence', { nullable: true, description: `${RULE_TEXT.confidence}; null if not given` }),
    source: t.exposeString('source', { nullable: true, description: `${RULE_TEXT.source}; null if not given` }),
    evidence: t.exposeString('evidence', { nullable: true, description: `${RULE_TEXT.evidence}; null if not given` }),
    isActive: t.exposeBoolean('isActive', { description: RULE_TEXT.isActive }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true, description: RULE_TEXT.expiresAt }),
    supersededBy: t.relation('supersededBy', { nullable: true, description: `${RULE_TEXT.supersededBy}; null if none` }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the rule was created' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the rule last changed' }),
  }),
});

const PRIOR_TEXT = {
  variable: 'The model variable (camelCase check-in name) or intercept',
  populationMean: "Prior mean of the variable's effect: quality points per unit",
  populationStd: 'Prior standard deviation of that mean (> 0)',
  individualVariance: 'Prior scale of how much athletes differ in this effect (variance, > 0; required for a model feature)',
  effectDirection: 'positive, negative or none: the direction the literature expects',
  category: 'Grouping for display, free text',
  confidence: 'How sure the literature is, free text',
  source: 'Where the prior comes from, free text',
  literatureRefs: 'References',
  description: 'What the prior says, free text',
  optimalMin: 'Lower end of the recommended range (suggestions move a value toward it)',
  optimalMax: 'Upper end of the recommended range (suggestions move a value toward it)',
  isActive: 'Is the prior used? An inactive one leaves the seed values in force (default true)',
} as const;
const priorText = (name: keyof typeof PRIOR_TEXT) => ({ nullable: true, description: `${PRIOR_TEXT[name]}; null if not given` }) as const;

builder.prismaObject('PopulationPrior', {
  description: 'Literature prior for a variable: effect on session quality per unit',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The prior id (uuid)' }),
    variable: t.exposeString('variable', { description: PRIOR_TEXT.variable }),
    populationMean: t.exposeFloat('populationMean', { description: PRIOR_TEXT.populationMean }),
    populationStd: t.exposeFloat('populationStd', { description: PRIOR_TEXT.populationStd }),
    individualVariance: t.exposeFloat('individualVariance', priorText('individualVariance')),
    referenceValue: t.exposeFloat('referenceValue', { nullable: true, description: 'The value the variable is centred on in the model; null if not given' }),
    effectDirection: t.exposeString('effectDirection', priorText('effectDirection')),
    category: t.exposeString('category', priorText('category')),
    confidence: t.exposeString('confidence', priorText('confidence')),
    source: t.exposeString('source', priorText('source')),
    literatureRefs: t.exposeStringList('literatureRefs', { description: PRIOR_TEXT.literatureRefs }),
    description: t.exposeString('description', priorText('description')),
    optimalMin: t.exposeFloat('optimalMin', priorText('optimalMin')),
    optimalMax: t.exposeFloat('optimalMax', priorText('optimalMax')),
    isActive: t.exposeBoolean('isActive', { description: PRIOR_TEXT.isActive }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the prior last changed' }),
  }),
});

const short = z.string().max(2000, { error: 'must be at most 2000 characters' });

const ExpertRuleInputType = builder.inputType('ExpertRuleInput', {
  description: 'An expert rule to create, or to update by name; validated before anything is written',
  fields: (t) => ({
    name: t.string({ required: true, description: RULE_TEXT.name }),
    description: t.string({ required: true, validate: short, description: RULE_TEXT.description }),
    conditions: t.field({ type: 'JSON', required: true, description: RULE_TEXT.conditions }),
    actions: t.field({ type: 'JSON', required: true, description: RULE_TEXT.actions }),
    category: t.field({ type: RuleCategoryEnum, required: true, description: RULE_TEXT.category }),
    priority: t.int({ required: true, description: RULE_TEXT.priority }),
    confidence: t.string({ validate: short, description: RULE_TEXT.confidence }),
    source: t.string({ validate: short, description: RULE_TEXT.source }),
    evidence: t.string({ validate: short, description: RULE_TEXT.evidence }),
    isActive: t.boolean({ description: RULE_TEXT.isActive }),
    expiresAt: t.field({ type: 'DateTime', description: RULE_TEXT.expiresAt }),
    supersededBy: t.string({ description: 'Name of the rule that replaces this one' }),
  }),
});

const PopulationPriorInputType = builder.inputType('PopulationPriorInput', {
  description: "A variable's prior to create, or to update by variable; the nightly fit and new models use it",
  fields: (t) => ({
    variable: t.string({ required: true, description: PRIOR_TEXT.variable }),
    populationMean: t.float({ required: true, description: PRIOR_TEXT.populationMean }),
    populationStd: t.float({ required: true, description: PRIOR_TEXT.populationStd }),
    individualVariance: t.float({ description: PRIOR_TEXT.individualVariance }),
    effectDirection: t.string({ validate: z.enum(['positive', 'negative', 'none']), description: PRIOR_TEXT.effectDirection }),
    category: t.string({ validate: short, description: `${PRIOR_TEXT.category} (at most 2000 characters)` }),
    confidence: t.string({ validate: short, description: `${PRIOR_TEXT.confidence} (at most 2000 characters)` }),
    source: t.string({ validate: short, description: `${PRIOR_TEXT.source} (at most 2000 characters)` }),
    literatureRefs: t.stringList({ description: PRIOR_TEXT.literatureRefs }),
    description: t.string({ validate: short, description: `${PRIOR_TEXT.description} (at most 2000 characters)` }),
    optimalMin: t.float({ description: `${PRIOR_TEXT.optimalMin}; not above optimalMax` }),
    optimalMax: t.float({ description: PRIOR_TEXT.optimalMax }),
    isActive: t.boolean({ description: PRIOR_TEXT.isActive }),
  }),
});

builder.queryFields((t) => ({
  populationPriors: t.prismaField({
    type: ['PopulationPrior'],
    authScopes: { authenticated: true },
    description: 'Every prior, by variable name',
    resolve: (query, _root, _args, ctx) => ctx.services.prisma.populationPrior.findMany({ ...query, orderBy: { variable: 'asc' } }),
  }),
  expertRules: t.prismaField({
    type: ['ExpertRule'],
    authScopes: { authenticated: true },
    description: 'Rules in evaluation order (priority desc, name asc); inactive ones for analysts and admins on request',
    args: { includeInactive: t.arg.boolean({ description: 'Also inactive rules (analysts and admins; ignored for others)' }) },
    resolve: (query, _root, args, ctx: Context) => {
      const all = args.includeInactive === true && readsEveryone(ctx.viewer);
      return ctx.services.prisma.expertRule.findMany({ ...query, where: all ? {} : { isActive: true }, orderBy: [{ priority: 'desc' }, { name: 'asc' }] });
    },
  }),
}));

builder.mutationFields((t) => ({
  upsertExpertRule: t.prismaField({
    type: 'ExpertRule',
    authScopes: { admin: true },
    description: 'Creates a rule, or updates the rule of that name (admins); in force for the next recommendation',
    args: { input: t.arg({ type: ExpertRuleInputType, required: true, description: 'The rule' }) },
    resolve: (query, _root, args, ctx) => upsertExpertRule(ctx, args.input as ExpertRuleInput, query),
  }),
  setExpertRuleActive: t.prismaField({
    type: 'ExpertRule',
    authScopes: { admin: true },
    description: 'Turns a rule on or off (admins); NOT_FOUND for an unknown name',
    args: {
      name: t.arg.string({ required: true, description: 'The rule name' }),
      active: t.arg.boolean({ required: true, description: 'true: evaluated; false: not' }),
    },
    resolve: (query, _root, args, ctx) => setExpertRuleActive(ctx, args.name, args.active, query),
  }),
  upsertPopulationPrior: t.prismaField({
    type: 'PopulationPrior',
    authScopes: { admin: true },
    description: "Creates or updates a variable's prior (admins)",
    args: { input: t.arg({ type: PopulationPriorInputType, required: true, description: 'The prior' }) },
    resolve: (query, _root, args, ctx) => upsertPopulationPrior(ctx, args.input as PopulationPriorInput, query),
  }),
}));
