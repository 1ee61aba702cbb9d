import { describe, expect, it } from 'vitest';
import { isWidgetReply, isWidgetRequest, WIDGET_LIMITS, widgetMessage, type WidgetRequest } from './widget-messages.ts';

const chat = (over: Record<string, unknown> = {}) => ({
  ...widgetMessage<WidgetRequest>({ type: 'chat', id: 'a1', model: '', messages: [{ role: 'user', content: 'hi' }], maxTokens: 64 }),
  ...over,
});

describe('widget messages', () => {
  it('accepts well-formed requests', () => {
    expect(isWidgetRequest(widgetMessage({ type: 'hello' }))).toBe(true);
    expect(isWidgetRequest(chat())).toBe(true);
    expect(isWidgetRequest(widgetMessage({ type: 'stop', id: 'a1' }))).toBe(true);
  });
  it('rejects foreign, old-version and malformed ones', () => {
    expect(isWidgetRequest({ type: 'hello' })).toBe(false);
    expect(isWidgetRequest({ ...widgetMessage({ type: 'hello' }), v: 0 })).toBe(false);
    expect(isWidgetRequest(chat({ messages: [] }))).toBe(false);
    expect(isWidgetRequest(chat({ messages: [{ role: 'tool', content: 'x' }] }))).toBe(false);
    expect(isWidgetRequest(chat({ maxTokens: WIDGET_LIMITS.maxTokens + 1 }))).toBe(false);
    expect(isWidgetRequest(chat({ messages: [{ role: 'user', content: 'x'.repeat(WIDGET_LIMITS.contentChars + 1) }] }))).toBe(false);
    expect(isWidgetRequest(chat({ messages: Array.from({ length: WIDGET_LIMITS.messages + 1 }, () => ({ role: 'user', content: 'x' })) }))).toBe(false);
    expect(isWidgetRequest(chat({ id: 'x'.repeat(WIDGET_LIMITS.idChars + 1) }))).toBe(false);
  });
  it('validates replies', () => {
    expect(isWidgetReply(widgetMessage({ type: 'ready', models: ['m'] }))).toBe(true);
    expect(isWidgetReply(widgetMessage({ type: 'done', id: 'a', tokens: 3, tokensPerSecond: null, finishReason: 'stop' }))).toBe(true);
    expect(isWidgetReply({ ...widgetMessage({ type: 'ready', models: ['m'] }), models: [1] })).toBe(false);
    expect(isWidgetReply(widgetMessage({ type: 'hello' }))).toBe(false);
  });
});
