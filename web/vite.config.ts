import { defineConfig } from "vite";

// The assets are embedded into the certward binary, which serves them under a strict
// Content-Security-Policy (default-src 'self', no inline script): nothing here may emit an
// inline script or fetch from another host.
export default defineConfig({
  base: "/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    target: "es2022",
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
