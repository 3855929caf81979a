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

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token) => sessionStorage.setItem(TOKEN_KEY, token.trim().replace(/^Bearer\s+/i, '')),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

export async function graphql(query, variables = {}, { signal } = {}) {
  const token = session.token();
  if (!token) throw new SignedOut('Sign in to see the insights.');
  const response = await fetch('/graphql', {
    method: 'POST',
    signal,
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => null);
  const errors = body?.errors ?? [];
  const refused = errors.find((e) => e.extensions?.code === 'UNAUTHENTICATED');
  if (response.status === 401 || refused) throw new SignedOut(`${refused?.message ?? 'The token was refused'}: sign in again.`);
  if (errors.length) throw new ApiError(errors.map((e) => e.message).join('; '), errors[0].extensions?.code);
  if (!response.ok || !body?.data) throw new ApiError(`The server answered ${response.status}`);
  return body.data;
}
