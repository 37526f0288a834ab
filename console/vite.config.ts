import { defineConfig } from 'vitest/config';

// The console is served by `voxdial serve` at `/`; `npm run dev` proxies the
// API to a local server (VOXDIAL_URL, default http://127.0.0.1:8080).
export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, target: 'es2022' },
  server: {
    proxy: { '/v1': process.env.VOXDIAL_URL ?? 'http://127.0.0.1:8080' },
  },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
