// Closing a Redis connection (the pub/sub's two, the rate limits', the shared model cache's).
import type { Redis } from 'ioredis';

/**
 * Closes `client`: politely when it is ready (QUIT, after the replies in flight), otherwise at once: a QUIT written to
 * a Redis that is down, or connected but not answering, would wait for as long as the stop allows.
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => {});
  else client.disconnect();
}
