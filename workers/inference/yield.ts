// Gives the event loop one turn, so messages queued behind a long computation (a cancel) are
// handled. A MessageChannel task, not setTimeout: browsers clamp nested timers to 4 ms, which would
// cost more than a decode step.
let channel: MessageChannel | undefined;
const waiting: (() => void)[] = [];

export function yieldToEvents(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve)); // Node
  if (!channel) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => waiting.shift()?.();
  }
  const port = channel.port2;
  return new Promise((resolve) => {
    waiting.push(resolve);
    port.postMessage(null);
  });
}
