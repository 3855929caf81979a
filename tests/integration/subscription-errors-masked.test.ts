// The errors a subscription can carry are masked like any other (docs/api.md "Errors"): an event whose field fails
// inside the server, and a stream that cannot start, reach the client as INTERNAL_SERVER_ERROR "Unexpected error.",
// never the database's own message. The failure is real: the model_outputs table is renamed on the server's own
// database, so modelUpdated's event (its model read from that table) fails. A dedicated server: the other files
// must never see the renamed table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, gqlOk, wsClient } from '../support/client.ts';
import { startTestServer, type TestServer, tokenFor, withTableMissing } from '../support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const MODEL_UPDATED = 'subscription { modelUpdated { sessionsIncluded user { id } } }';
type Masked = { message: string; extensions?: { code?: string }; path?: unknown[] };

/** modelUpdated's first event (the current model, sent at once) over graphql-ws; the stream is then left. */
async function firstModelEvent(token: string): Promise<{ data?: unknown; errors?: readonly Masked[] } | { closedWith: Masked[] }> {
  const client = wsClient(server.wsUrl, token);
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no modelUpdated event within 20 s')), 20_000);
      client.subscribe(
        { query: MODEL_UPDATED },
        {
          next: (value) => {
            clearTimeout(timer);
            resolve(value as { data?: unknown; errors?: readonly Masked[] });
          },
          error: (err) => {
            clearTimeout(timer);
            resolve({ closedWith: err as Masked[] });
          },
          complete: () => {},
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

describe('a subscription that fails inside the server', () => {
  it("sends an event's field error masked (INTERNAL_SERVER_ERROR, no SQL) and refuses a stream that cannot start the same way", async () => {
    const cached = await tokenFor('athlete');
    const uncached = await tokenFor('athlete');
    // The athlete's model is stored and in the engine's cache: subscribing again needs no read of model_outputs,
    // only the event does (its model is read from the table as it is sent).
    await gqlOk(server.url, 'mutation { trainUserModel { id } }', {}, cached.token);
    await server.training.idle();
    const before = await firstModelEvent(cached.token);
    expect(before).toMatchObject({ data: { modelUpdated: { sessionsIncluded: 0, user: { id: cached.id } } } });

    await withTableMissing(server, 'model_outputs', async () => {
      const event = await firstModelEvent(cached.token);
      expect(event).not.toHaveProperty('closedWith');
      const { data, errors } = event as { data?: unknown; errors?: readonly Masked[] };
      expect(data).toBeNull(); // modelUpdated is non-null: its error nulls the whole event
      expect(errors).toHaveLength(1);
      expect(errors?.[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      expect(JSON.stringify(errors)).not.toMatch(/model_outputs|relation|does not exist/i);

      // An athlete whose model is not cached: the stream's own start reads the table and fails, refused masked.
      const client = wsClient(server.wsUrl, uncached.token);
      try {
        const refused = await collect(client, MODEL_UPDATED);
        expect(refused.events).toEqual([]);
        expect(refused.errors).toHaveLength(1);
        expect(refused.errors[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
        expect(JSON.stringify(refused.errors)).not.toMatch(/model_outputs|relation|does not exist/i);
      } finally {
        await client.dispose();
      }
    });

    const after = await firstModelEvent(cached.token);
    expect(after).toMatchObject({ data: { modelUpdated: { sessionsIncluded: 0, user: { id: cached.id } } } });
  });
});
