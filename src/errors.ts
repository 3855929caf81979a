// Typed errors with the codes of api.md. Anything else that escapes a resolver is masked by Yoga.
import { GraphQLError } from 'graphql';

export type ErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT';

const HTTP_STATUS: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
};

export class AppError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message, { extensions: { code, ...(field ? { field } : {}), http: { status: HTTP_STATUS[code] } } });
  }
}

export const unauthenticated = (message = 'Sign in: send Authorization: Bearer <token>') => new AppError('UNAUTHENTICATED', message);
export const forbidden = (message = 'You are not allowed to do this') => new AppError('FORBIDDEN', message);
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const badInput = (field: string, message: string) => new AppError('BAD_USER_INPUT', message, field);
export const conflict = (message: string) => new AppError('CONFLICT', message);
