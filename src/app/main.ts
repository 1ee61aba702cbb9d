// Entry point of the page: the full app, or (at /?embed=widget) the widget's frame, which needs only
// the API client. Each loads as its own chunk, so a host page's widget never downloads the shell.
const embed = new URLSearchParams(location.search).get('embed');

if (embed === 'widget') void import('./widget-frame-main.ts');
else void import('./app-main.ts');
