// Integration and end-to-end suites: real CAs, orderers, peers, chaincode
// servers, Kubo, Cluster and gateways of one network instance ('test'),
// started once by globalSetup and removed by globalTeardown.
/** @type {import('jest').Config} */
module.exports = {
  displayName: 'integration',
  rootDir: __dirname,
  testMatch: ['<rootDir>/tests/**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json', diagnostics: { ignoreCodes: [151002] } }],
  },
  globalSetup: '<rootDir>/support/global-setup.mjs',
  globalTeardown: '<rootDir>/support/global-teardown.mjs',
  setupFilesAfterEnv: ['<rootDir>/support/timeout.ts'],
  testEnvironmentOptions: { globalsCleanup: 'off' },
};
