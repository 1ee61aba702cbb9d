// The widget's settings, read from its <script data-…> attributes: validated here (a host page's
// markup is input like any other), with defaults that make a bare <script src> work.

export interface WidgetConfig {
  /** Where the frame lives: the origin widget.js was loaded from. */
  appOrigin: string;
  title: string;
  greeting: string;
  /** Empty: the first model the API serves. */
  model: string;
  position: 'bottom-right' | 'bottom-left';
  accent: string;
  /** Text colour on the accent, picked for contrast. */
  onAccent: string;
  maxTokens: number;
  open: boolean;
}

export const DEFAULT_ACCENT = '#0f6b63';

/** Colours accepted as-is: hex, or rgb()/hsl() with plain numbers (nothing that could close the CSS rule). */
const COLOUR = /^(#[0-9a-f]{3}|#[0-9a-f]{6}|(rgb|hsl)a?\([0-9.,%\s/]+\))$/i;

export function readWidgetConfig(dataset: Record<string, string | undefined>, scriptSrc: string): WidgetConfig {
  const accent = dataset.accent && COLOUR.test(dataset.accent.trim()) ? dataset.accent.trim() : DEFAULT_ACCENT;
  const maxTokens = Number(dataset.maxTokens);
  return {
    appOrigin: new URL(scriptSrc).origin,
    title: text(dataset.title, 'Chat', 60),
    greeting: text(dataset.greeting, 'Hi! Ask me anything.', 400),
    model: text(dataset.model, '', 200),
    position: dataset.position === 'bottom-left' ? 'bottom-left' : 'bottom-right',
    accent,
    onAccent: onAccentFor(accent),
    maxTokens: Number.isInteger(maxTokens) && maxTokens >= 1 && maxTokens <= 2048 ? maxTokens : 256,
    open: dataset.open === 'true',
  };
}

function text(value: string | undefined, fallback: string, max: number): string {
  const trimmed = value?.trim();
  return trimmed ? trimmed.slice(0, max) : fallback;
}

/** Black or white, whichever contrasts more with a hex accent (WCAG relative luminance); white otherwise. */
export function onAccentFor(accent: string): string {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(accent)?.[1];
  if (!hex) return '#ffffff';
  const full = hex.length === 3 ? [...hex].map((c) => c + c).join('') : hex;
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(full.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  // Contrast with white is 1.05/(L+0.05); with black (L+0.05)/0.05: equal near L = 0.179.
  return luminance > 0.179 ? '#111111' : '#ffffff';
}
