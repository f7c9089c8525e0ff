import { defineConfig } from "vitest/config";

// Suites against real servers (Keystone, Ceph RGW). Each installs its Debian packages when missing.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    testTimeout: 600000,
    hookTimeout: 900000,
    fileParallelism: false,
  },
});
