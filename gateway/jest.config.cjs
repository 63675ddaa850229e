// The gateway's unit and route tests: in-memory fakes of the ledger and the
// blob store, no network. ESM throughout (kubo-rpc-client and jose are ESM-only).
/** @type {import('jest').Config} */
module.exports = {
  displayName: 'gateway',
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/src/**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
};
