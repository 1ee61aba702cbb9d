// `npm run build`: the production build of the PWA into dist/ (static files; see README for headers).
import { build } from 'vite';

await build({ logLevel: 'warn' });
console.log('build: dist/');
