import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The gateway embeds dist/ (see gateway/web.go). The dev server proxies
// the API to a node on the default gateway address.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "/api": { target: "http://127.0.0.1:7733", ws: true, changeOrigin: true },
    },
  },
});
