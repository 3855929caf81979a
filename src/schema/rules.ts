import { z } from 'zod';
import type { Context } from '../context.ts';
import { upsertExpertRule, setExpertRuleActive, upsertPopulationPrior, type ExpertRuleInput, type PopulationPriorInput } from '../resolvers/admin.ts';
import { readsEveryone } from '../resolvers/access.ts';
import { builder } from './builder.ts';
import { RuleCategoryEnum } from './enums.ts';

builder.prismaObject('ExpertRule', {
  description: 'An expert rule: JSON conditions over check-in (and baseline.*) variables, and actions',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    conditions: t.expose('conditions', { type: 'JSON' }),
    actions: t.expose('actions', { type: 'JSON' }),
    category: t.expose('category', { type: RuleCategoryEnum }),
    priority: t.exposeInt('priority'),
    confidence: t.exposeString('confidence', { nullable: true }),
    source: t.exposeString('source', { nullable: true }),
    evidence: t.exposeString('evidence', { nullable: true }),
    isActive: t.exposeBoolean('isActive'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    supersededBy: t.relation('supersededBy', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.prismaObject('PopulationPrior', {
  description: 'Literature prior for a variable: effect on session quality per unit',
  fields: (t) => ({
    id: t.exposeID('id'),
    variable: t.exposeString('variable'),
    populationMean: t.exposeFloat('populationMean'),
    populationStd: t.exposeFloat('populationStd'),
    individualVariance: t.exposeFloat('individualVariance', { nullable: true }),
    referenceValue: t.exposeFloat('referenceValue', { nullable: true }),
    effectDirection: t.exposeString('effectDirection', { nullable: true }),
    category: t.exposeString('category', { nullable: true }),
    confidence: t.exposeString('confidence', { nullable: true }),
    source: t.exposeString('source', { nullable: true }),
    literatureRefs: t.exposeStringList('literatureRefs'),
    description: t.exposeString('description', { nullable: true }),
    optimalMin: t.exposeFloat('optimalMin', { nullable: true }),
    optimalMax: t.exposeFloat('optimalMax', { nullable: true }),
    isActive: t.exposeBoolean('isActive'),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const short = z.string().max(2000, { error: 'must be at most 2000 characters' });

const ExpertRuleInputType = builder.inputType('ExpertRuleInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'snake_case; an existing name updates that rule' }),
    description: t.string({ required: true, validate: short }),
    conditions: t.field({ type: 'JSON', required: true, description: '{"all"|"any": [...]}, {"not": ...} or {"field","op","value"}' }),
    actions: t.field({ type: 'JSON', required: true, description: 'List of {"type": "override"|"constrain"|"adjustPrediction", ...}' }),
    category: t.field({ type: RuleCategoryEnum, required: true }),
    priority: t.int({ required: true, description: '0-100, higher first' }),
    confidence: t.string({ validate: short }),
    source: t.string({ validate: short }),
    evidence: t.string({ validate: short }),
    isActive: t.boolean(),
    expiresAt: t.field({ type: 'DateTime' }),
    supersededBy: t.string({ description: 'Name of the rule that replaces this one' }),
  }),
});

const PopulationPriorInputType = builder.inputType('PopulationPriorInput', {
  fields: (t) => ({
    variable: t.string({ required: true }),
    populationMean: t.float({ required: true }),
    populationStd: t.float({ required: true }),
    individualVariance: t.float(),
    effectDirection: t.string({ validate: z.enum(['positive', 'negative', 'none']) }),
    category: t.string({ validate: short }),
    confidence: t.string({ validate: short }),
    source: t.string({ validate: short }),
    literatureRefs: t.stringList(),
    description: t.string({ validate: short }),
    optimalMin: t.float(),
    optimalMax: t.float(),
    isActive: t.boolean(),
  }),
});

builder.queryFields((t) => ({
  populationPriors: t.prismaField({
    type: ['PopulationPrior'],
    authScopes: { authenticated: true },
    resolve: (query, _root, _args, ctx) => ctx.services.prisma.populationPrior.findMany({ ...query, orderBy: { variable: 'asc' } }),
  }),
  expertRules: t.prismaField({
    type: ['ExpertRule'],
    authScopes: { authenticated: true },
    description: 'Rules in evaluation order (priority desc, name asc); inactive ones for analysts and admins on request',
    args: { includeInactive: t.arg.boolean() },
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
    args: { input: t.arg({ type: ExpertRuleInputType, required: true }) },
    resolve: (query, _root, args, ctx) => upsertExpertRule(ctx, args.input as ExpertRuleInput, query),
  }),
  setExpertRuleActive: t.prismaField({
    type: 'ExpertRule',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }), active: t.arg.boolean({ required: true }) },
    resolve: (query, _root, args, ctx) => setExpertRuleActive(ctx, args.name, args.active, query),
  }),
  upsertPopulationPrior: t.prismaField({
    type: 'PopulationPrior',
    authScopes: { admin: true },
    args: { input: t.arg({ type: PopulationPriorInputType, required: true }) },
    resolve: (query, _root, args, ctx) => upsertPopulationPrior(ctx, args.input as PopulationPriorInput, query),
  }),
}));
