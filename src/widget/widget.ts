// widget.js: `<script src="https://<app>/widget.js" data-title=… async></script>` on any site draws a
// chat launcher and panel in a shadow root (no styles cross either way) and chats through a hidden
// frame of the app's origin (src/widget/frame.ts). Built on its own into one classic script.
import { readWidgetConfig } from './config.ts';
import { FrameBridge } from './bridge.ts';
import { WidgetPanel } from './panel.ts';
import { widgetCss } from './styles.ts';

const HOST_TAG = 'mesh-llm-widget';

function mount(script: HTMLScriptElement): void {
  const config = readWidgetConfig({ ...script.dataset }, script.src);
  const host = document.createElement(HOST_TAG);
  const shadow = host.attachShadow({ mode: 'open' });
  const style = document.createElement('style');
  style.textContent = widgetCss(config);
  let bridge: FrameBridge | undefined;
  const panel: WidgetPanel = new WidgetPanel(config, {
    onFirstOpen() {
      bridge = new FrameBridge(config.appOrigin, { onReply: (reply) => panel.receive(reply), onUnreachable: () => panel.unreachable() });
      shadow.append(bridge.frame);
      bridge.connect();
    },
    send: (id, messages) => bridge?.chat(id, config.model, messages, config.maxTokens),
    stop: (id) => bridge?.stop(id),
  });
  shadow.append(style, panel.element);
  document.body.append(host);
  if (config.open) panel.toggle(true);
}

// currentScript is only set while a classic script first runs; `async` and `defer` are fine.
const script = document.currentScript;
if (script instanceof HTMLScriptElement && !document.querySelector(HOST_TAG)) {
  if (document.body) mount(script);
  else addEventListener('DOMContentLoaded', () => mount(script), { once: true });
}
