// negotiator's own API for the calls the server makes (@types/negotiator lacks the `preferred` option, which
// picks brotli over gzip when a client accepts both equally, as browsers do).
declare module 'negotiator' {
  export default class Negotiator {
    constructor(request: { headers: Record<string, string | undefined> });
    encoding(available: readonly string[], options?: { preferred?: readonly string[] }): string | undefined;
    /** The most preferred of `available` by the Accept header (undefined when none is acceptable). */
    mediaType(available: readonly string[]): string | undefined;
  }
}
