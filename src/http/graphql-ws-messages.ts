// The document text of graphql-ws's subscribe messages, one copy per text.
//
// graphql-ws keeps every subscribe message it has parsed (its payload: the document's text, the variables) until that
// operation ends: the message is what its handler passes along with each event it sends. A stream that waits (a
// burst, a queue under load) is copied by every scavenge and then promoted with it, and the document's text is the
// message's largest part (about 1 KB of the stream's survivors for the app's recommendation subscription). Every
// client of an app sends the same text, so graphql-ws's own JSON reviver (its `jsonMessageReviver` option) hands it
// the first copy seen of each text instead of the message's own: equal strings, so nothing a client sees changes.
// Bounded: at most MAX_TEXTS texts are kept, dropped all at once when full (a client sending ever-new documents
// only empties it).

const MAX_TEXTS = 256;

/** A JSON reviver for graphql-ws (`jsonMessageReviver`): each `query` string value as the first copy of its text. */
export function sharedDocumentTexts(): (key: string, value: unknown) => unknown {
  const texts = new Map<string, string>();
  return (key, value) => {
    if (key !== 'query' || typeof value !== 'string') return value;
    const shared = texts.get(value);
    if (shared !== undefined) return shared;
    if (texts.size >= MAX_TEXTS) texts.clear();
    texts.set(value, value);
    return value;
  };
}
