import { defineConfig, type ProxyOptions } from 'vite';
import preact from '@preact/preset-vite';

// The dev server forwards the API to a running picloud. The admin API refuses
// writes whose Origin is not its own, so the proxy replaces the dev server's
// own Origin (only that one: another page's stays, and is refused) with the
// target's.
const target = process.env.PICLOUD_URL ?? 'http://127.0.0.1:18080';

const forward: ProxyOptions = {
  target,
  changeOrigin: true,
  configure(proxy) {
    proxy.on('proxyReq', (req, incoming) => {
      const origin = req.getHeader('origin');
      const own = typeof origin === 'string' && /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\]):\d+$/.test(origin) &&
        origin.endsWith(`:${incoming.socket.localPort}`);
      if (own) {
        req.setHeader('origin', target);
        req.removeHeader('sec-fetch-site');
      }
    });
  },
};

// The headers the kernel sends with the dashboard, also used by `vite preview`,
// so a production build can be tried under the same Content-Security-Policy.
export const DASHBOARD_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

export default defineConfig({
  base: '/admin/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    sourcemap: false,
    target: 'es2020',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rollupOptions: {
      // The C-like mode module defines a dozen languages with calls to clike();
      // only AngelScript's is used, so the others may be dropped.
      treeshake: { manualPureFunctions: ['clike', 'words'] },
    },
  },
  server: {
    port: 5173,
    strictPort: false,
    proxy: {
      '/api': forward,
      '/healthz': forward,
      '/readyz': forward,
    },
  },
  preview: {
    port: 4173,
    headers: DASHBOARD_HEADERS,
    proxy: {
      '/api': forward,
      '/healthz': forward,
      '/readyz': forward,
    },
  },
});
