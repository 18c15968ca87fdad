import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The SDK loaded by Node for the tests and the code alike: run through vitest's module runner it is
    // a second copy beside the one Node loads for powertools (parameters), and a client mocked in one is
    // not the client the other creates.
    server: { deps: { external: [/\/node_modules\/@aws-sdk\//] } },
    // The local servers' credentials and no instance metadata: a test never signs with real ones.
    env: {
      AWS_ACCESS_KEY_ID: 'vigil-local',
      AWS_SECRET_ACCESS_KEY: 'vigil-local',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PROFILE: '',
      POWERTOOLS_DEV: 'true',
      POWERTOOLS_LOG_LEVEL: 'CRITICAL',
    },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          // Starts PostgreSQL when DATABASE_URL is unset and prepares the template database.
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
