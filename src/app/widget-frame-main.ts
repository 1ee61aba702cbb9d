// The widget's frame (/?embed=widget): no shell, no service worker (a third-party frame's storage is
// partitioned, so a worker and its precache would be a second copy per embedding site), no engine:
// it answers the host page's widget as an API client of the companion (src/widget/frame.ts).
import { startWidgetFrame } from '../widget/frame.ts';
import { embedDecision, publishedEmbedPolicy } from '../widget/embed-policy.ts';
import { apiFetch } from '../client/api-fetch.ts';
import { describeError } from '../client/describe-error.ts';

document.documentElement.dataset.embed = 'widget';
if (window.parent === window) {
  document.body.textContent = 'This page is the connection of the Mesh LLM chat widget, meant to be embedded by widget.js.';
} else {
  const policy = publishedEmbedPolicy(location.origin);
  startWidgetFrame({
    apiFetch,
    allow: async (origin) => embedDecision(origin, location.origin, await policy),
    describeError,
    parent: window.parent,
  });
}
