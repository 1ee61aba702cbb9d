// What the person sees when a chat request fails: a title and a detail saying what to do next.
import { PlaygroundError } from './playground-chat.ts';

export function describeError(error: unknown): { title: string; detail: string } {
  if (error instanceof PlaygroundError) {
    switch (error.code) {
      case 'no_peer':
        return { title: 'No peer can serve this model', detail: error.message };
      case 'unreachable':
        return { title: 'The API is unreachable', detail: error.message };
      case 'stream_error':
        return { title: 'The reply was cut off', detail: error.message };
      default:
        return { title: 'The request failed', detail: error.message };
    }
  }
  return { title: 'Something went wrong', detail: error instanceof Error ? error.message : String(error) };
}
