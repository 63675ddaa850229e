// The gateway's unit and route tests: in-memory fakes of the ledger and the
// blob store, no network. ESM throughout (kubo-rpc-client and jose are ESM-only).
/** @type {import('jest').Config} */
module.exports = {
  displayName: 'gateway',
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/src/**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  // @ehr/ledger-model is CommonJS and loads from its build (npm test builds
  // first): ts-jest would compile its source as CommonJS, which ESM cannot link.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
};
