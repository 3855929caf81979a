// The page's only way to data: POST /graphql with the signed-in token, as any other client of the public API.

const TOKEN_KEY = 'climbiq.insights.token';

/** The token is gone, expired or refused: the page returns to the sign-in prompt. */
export class SignedOut extends Error {}

/** Any other failure of a request (shown in the panel that asked). */
export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/**
 * Over a per-viewer budget (HTTP 429, code RATE_LIMITED): `retryAfterSeconds` from the Retry-After header (or the
 * error's extensions) says when the same request will be answered.
 */
export class RateLimited extends ApiError {
  constructor(message, retryAfterSeconds) {
    super(message, 'RATE_LIMITED');
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token) => sessionStorage.setItem(TOKEN_KEY, token.trim().replace(/^Bearer\s+/i, '')),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

/**
 * A server with PERSISTED_OPERATIONS runs only the documents of its manifest, listed under their SHA-256: the page
 * (told so by the server, in index.html) then sends each operation's hash instead of its text.
 */
const persistedOperations = document.querySelector('meta[name="climbiq-persisted-operations"]')?.content === 'on';
const operationIds = new Map();

function operationId(query) {
  // crypto.subtle exists only in a secure context: https, or http on localhost / 127.0.0.1.
  if (!crypto.subtle) throw new ApiError('This server accepts only persisted operations, whose ids the page computes over https (or on localhost) only');
  if (!operationIds.has(query)) {
    const digest = crypto.subtle.digest('SHA-256', new TextEncoder().encode(query));
    operationIds.set(
      query,
      digest.then((hash) => Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, '0')).join('')),
    );
  }
  return operationIds.get(query);
}

/** The body of a request for `query`: its text, or its id when the server runs only persisted operations. */
export async function graphqlBody(query, variables) {
  if (!persistedOperations) return { query, variables };
  return { variables, extensions: { persistedQuery: { version: 1, sha256Hash: await operationId(query) } } };
}

export async function graphql(query, variables = {}, { signal } = {}) {
  const token = session.token();
  if (!token) throw new SignedOut('Sign in to see the insights.');
  const body = JSON.stringify(await graphqlBody(query, variables));
  const response = await fetch('/graphql', {
    method: 'POST',
    signal,
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: `Bearer ${token}`,
    },
    body,
  });
  const answer = await response.json().catch(() => null);
  const errors = answer?.errors ?? [];
  const refused = errors.find((e) => e.extensions?.code === 'UNAUTHENTICATED');
  if (response.status === 401 || refused) throw new SignedOut(`${refused?.message ?? 'The token was refused'}: sign in again.`);
  const limited = errors.find((e) => e.extensions?.code === 'RATE_LIMITED');
  if (response.status === 429 || limited) {
    const seconds = Number(response.headers.get('retry-after') ?? limited?.extensions?.retryAfterSeconds);
    throw new RateLimited(limited?.message ?? 'Too many requests', Number.isFinite(seconds) && seconds > 0 ? seconds : 5);
  }
  if (errors.length) throw new ApiError(errors.map((e) => e.message).join('; '), errors[0].extensions?.code);
  if (!response.ok || !answer?.data) throw new ApiError(`The server answered ${response.status}`);
  return answer.data;
}
