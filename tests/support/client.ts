// Real clients: GraphQL over HTTP (fetch), graphql-ws over a real WebSocket, and SSE.
// Response data is whatever the query selected: each caller names the shape its query selects (`unknown` by default).
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** One entry of a GraphQL answer's `errors` (the server's typed errors carry `code` and the offending `field`). */
export interface GraphQLErrorBody {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; field?: string; [k: string]: unknown };
}

export interface GraphQLResponse<T = unknown> {
  data?: T | null;
  errors?: GraphQLErrorBody[];
}

/** A Relay connection as a query selects it: `edges { node { ... } }`. */
export interface Connection<N> {
  edges: { node: N }[];
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

/** A connection whose query also selects `totalCount`. */
export interface Counted<N> extends Connection<N> {
  totalCount: number;
}

/** A connection whose query also selects `pageInfo`. */
export interface Page<N> extends Connection<N> {
  pageInfo: PageInfo;
}

/** A browser's CORS preflight for a POST with a token, from `origin`. */
export const corsPreflight = (url: string, origin: string) =>
  fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });

/** A cross-origin POST of `{ me { id } }` with a token, from `origin`. */
export const corsPost = (url: string, origin: string, token: string) =>
  fetch(url, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ me { id } }' }),
  });

export async function gql<T = unknown>(url: string, query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResponse<T> & { status: number }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as GraphQLResponse<T>;
  return { ...body, status: res.status };
}

/** gql that fails the test on any error and returns data. */
export async function gqlOk<T = unknown>(url: string, query: string, variables?: Record<string, unknown>, token?: string): Promise<T> {
  const res = await gql<T>(url, query, variables, token);
  if (res.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data as T;
}

export function wsClient(wsUrl: string, token?: string): Client {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
  });
}

export interface Collected<T> {
  events: T[];
  errors: unknown[];
  completed: boolean;
}

/** Subscribes and collects every event until the server completes the stream (or an error ends it). */
export function collect<T = unknown>(client: Client, query: string, variables?: Record<string, unknown>, timeoutMs = 20_000): Promise<Collected<T>> {
  return new Promise((resolve, reject) => {
    const out: Collected<T> = { events: [], errors: [], completed: false };
    const timer = setTimeout(() => {
      dispose();
      reject(new Error(`subscription timed out after ${timeoutMs} ms with ${out.events.length} events`));
    }, timeoutMs);
    const dispose = client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          if (value.errors) out.errors.push(...value.errors);
          if (value.data) out.events.push(value.data as T);
        },
        error: (err) => {
          clearTimeout(timer);
          out.errors.push(err);
          resolve(out);
        },
        complete: () => {
          clearTimeout(timer);
          out.completed = true;
          resolve(out);
        },
      },
    );
  });
}

/** A subscription over Server-Sent Events (GraphQL over SSE, "distinct connections" mode). */
export async function sse<T = unknown>(url: string, query: string, variables?: Record<string, unknown>, token?: string): Promise<{ status: number; events: GraphQLResponse<T>[] }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  const events: GraphQLResponse<T>[] = [];
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n');
    const event = lines
      .find((l) => l.startsWith('event:'))
      ?.slice(6)
      .trim();
    const data = lines
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trim())
      .join('\n');
    if ((event === undefined || event === 'next') && data) events.push(JSON.parse(data) as GraphQLResponse<T>);
  }
  return { status: res.status, events };
}
