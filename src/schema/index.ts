// Every domain type registers itself on the builder; importing them here builds the whole schema.
import { builder } from './builder.ts';
import { passEventsThrough } from './subscription-events.ts';
import './enums.ts';
import './check-in.ts';
import './user.ts';
import './baseline.ts';
import './session.ts';
import './recommendation.ts';
import './model.ts';
import './model-quality.ts';
import './rules.ts';
import './training.ts';
import './insights.ts';
import './coaching.ts';

export const schema = passEventsThrough(builder.toSchema({ sortSchema: false }));
