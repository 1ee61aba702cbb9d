import { describe, expect, it } from 'vitest';
import { DEFAULT_ACCENT, onAccentFor, readWidgetConfig } from './config.ts';

const SRC = 'https://mesh.example:8443/widget.js?v=1';

describe('readWidgetConfig', () => {
  it('gives working defaults for a bare script tag', () => {
    const config = readWidgetConfig({}, SRC);
    expect(config).toMatchObject({
      appOrigin: 'https://mesh.example:8443',
      title: 'Chat',
      model: '',
      position: 'bottom-right',
      accent: DEFAULT_ACCENT,
      onAccent: '#ffffff',
      maxTokens: 256,
      open: false,
    });
  });
  it('reads the data- attributes', () => {
    const config = readWidgetConfig(
      { title: ' Support ', greeting: 'Hello', model: 'tiny', position: 'bottom-left', accent: '#ffcc00', maxTokens: '40', open: 'true' },
      SRC,
    );
    expect(config).toMatchObject({
      title: 'Support',
      greeting: 'Hello',
      model: 'tiny',
      position: 'bottom-left',
      accent: '#ffcc00',
      onAccent: '#111111',
      maxTokens: 40,
      open: true,
    });
  });
  it('refuses colours that could escape the style rule, and bad numbers', () => {
    expect(readWidgetConfig({ accent: 'red; } * { display: none' }, SRC).accent).toBe(DEFAULT_ACCENT);
    expect(readWidgetConfig({ accent: 'url(https://x)' }, SRC).accent).toBe(DEFAULT_ACCENT);
    expect(readWidgetConfig({ accent: 'rgb(10, 20, 30)' }, SRC).accent).toBe('rgb(10, 20, 30)');
    expect(readWidgetConfig({ maxTokens: '1e9' }, SRC).maxTokens).toBe(256);
    expect(readWidgetConfig({ position: 'top' }, SRC).position).toBe('bottom-right');
  });
});

describe('onAccentFor', () => {
  it('picks the text colour with more contrast', () => {
    expect(onAccentFor('#000')).toBe('#ffffff');
    expect(onAccentFor('#ffffff')).toBe('#111111');
    expect(onAccentFor('#1d63d8')).toBe('#ffffff');
    expect(onAccentFor('#f5d90a')).toBe('#111111');
  });
});
