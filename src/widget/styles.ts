// The widget's stylesheet, inside its shadow root. Pixels, not rem (a host page's root font size
// must not scale it); variables live on .root, where host page selectors cannot reach them.
import type { WidgetConfig } from './config.ts';

export function widgetCss(config: WidgetConfig): string {
  const side = config.position === 'bottom-left' ? 'left' : 'right';
  return `
:host {
  all: initial !important;
  display: block !important;
  position: fixed !important;
  ${side}: 20px !important;
  bottom: 20px !important;
  z-index: 2147483000 !important;
  width: auto !important;
  height: auto !important;
  margin: 0 !important;
  padding: 0 !important;
  transform: none !important;
  opacity: 1 !important;
  visibility: visible !important;
}
.root {
  --accent: ${config.accent};
  --on-accent: ${config.onAccent};
  --text: #14212b;
  --muted: #4f5f6b;
  --surface: #ffffff;
  --bubble: #eef2f5;
  --border: #d9e0e6;
  --focus: #1d63d8;
  font: 400 14px/1.45 ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans', 'DejaVu Sans', sans-serif;
  color: var(--text);
  text-align: left;
  letter-spacing: normal;
  display: flex;
  flex-direction: column;
  align-items: ${side === 'left' ? 'flex-start' : 'flex-end'};
  gap: 14px;
}
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
button, textarea { font: inherit; color: inherit; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }

.launcher {
  width: 58px; height: 58px; border-radius: 50%; border: 0; cursor: pointer;
  background: var(--accent); color: var(--on-accent);
  display: grid; place-items: center;
  box-shadow: 0 6px 20px rgb(10 20 30 / 25%), 0 2px 6px rgb(10 20 30 / 15%);
  transition: transform 160ms ease, box-shadow 160ms ease;
}
.launcher:hover { transform: translateY(-2px); box-shadow: 0 10px 26px rgb(10 20 30 / 28%); }
.launcher svg { width: 26px; height: 26px; }

.panel {
  width: min(380px, calc(100vw - 40px));
  height: min(560px, calc(100vh - 110px));
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: 18px;
  box-shadow: 0 24px 60px rgb(10 20 30 / 22%), 0 4px 14px rgb(10 20 30 / 10%);
  display: flex; flex-direction: column; overflow: hidden;
  animation: rise 180ms ease-out;
}
@keyframes rise { from { opacity: 0; transform: translateY(8px) scale(0.98); } }

.head {
  display: flex; align-items: center; gap: 12px;
  padding: 14px 14px 14px 16px;
  background: var(--accent); color: var(--on-accent);
}
.avatar { width: 36px; height: 36px; border-radius: 50%; display: grid; place-items: center; background: rgb(255 255 255 / 18%); flex: none; }
.avatar svg { width: 20px; height: 20px; }
.head-text { flex: 1; min-width: 0; }
.title { margin: 0; font-size: 16px; font-weight: 650; line-height: 1.25; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.state { margin: 2px 0 0; font-size: 12.5px; display: flex; align-items: center; gap: 6px; }
.dot { width: 8px; height: 8px; border-radius: 50%; background: currentColor; opacity: 0.55; flex: none; }
.state[data-state="ready"] .dot { opacity: 1; background: #39d98a; box-shadow: 0 0 0 2px rgb(255 255 255 / 55%); }
.state[data-state="down"] .dot { opacity: 1; background: #ff6b6b; box-shadow: 0 0 0 2px rgb(255 255 255 / 55%); }
.close { width: 34px; height: 34px; border-radius: 10px; border: 0; background: transparent; color: inherit; cursor: pointer; display: grid; place-items: center; }
.close:hover { background: rgb(255 255 255 / 16%); }
.close svg { width: 18px; height: 18px; }

.log { flex: 1; overflow-y: auto; padding: 16px; display: flex; flex-direction: column; gap: 10px; background: #fafbfc; }
.msg { max-width: 86%; padding: 9px 13px; border-radius: 16px; white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; font-size: 14px; }
.msg.bot { align-self: flex-start; background: var(--bubble); color: var(--text); border-bottom-left-radius: 5px; }
.msg.me { align-self: flex-end; background: var(--accent); color: var(--on-accent); border-bottom-right-radius: 5px; }
.msg.bot[data-streaming="true"]::after { content: '▍'; margin-left: 2px; animation: blink 1s steps(2) infinite; }
@keyframes blink { 50% { opacity: 0; } }
.msg.error { align-self: stretch; max-width: none; background: #fdecec; color: #8a1c1c; border: 1px solid #f3c2c2; border-radius: 12px; }
.msg.error strong { display: block; }
.meta { align-self: flex-start; margin: -4px 0 0 4px; font-size: 12px; color: var(--muted); }

.composer { display: flex; align-items: flex-end; gap: 8px; padding: 12px; border-top: 1px solid var(--border); background: var(--surface); }
.composer textarea {
  flex: 1; resize: none; min-height: 42px; max-height: 120px; padding: 10px 12px;
  border: 1px solid #b9c4cd; border-radius: 12px; background: #fff; color: var(--text); line-height: 1.4;
}
.composer textarea::placeholder { color: #66737d; }
.composer textarea:focus-visible { outline: 3px solid var(--focus); outline-offset: 0; border-color: var(--focus); }
.send { height: 42px; min-width: 42px; padding: 0 12px; border-radius: 12px; border: 0; cursor: pointer; background: var(--accent); color: var(--on-accent); display: grid; place-items: center; font-weight: 600; }
.send svg { width: 18px; height: 18px; }
.send:disabled { opacity: 0.55; cursor: not-allowed; }
.foot { margin: 0; padding: 0 14px 10px; font-size: 11.5px; color: var(--muted); background: var(--surface); }
.foot a { color: inherit; }

@media (prefers-reduced-motion: reduce) {
  .panel, .msg.bot[data-streaming="true"]::after { animation: none; }
  .launcher { transition: none; }
}
`;
}
