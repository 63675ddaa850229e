// Chaincode unit tests run against an in-memory fake of the Fabric stub.
// The chaincode is CommonJS; the root runs Jest with --experimental-vm-modules,
// so .ts is deliberately not listed in extensionsToTreatAsEsm and ts-jest emits CJS.
/** @type {import('jest').Config} */
module.exports = {
  displayName: 'chaincode',
  rootDir: __dirname,
  roots: ['<rootDir>/src'],
  testEnvironment: 'node',
  testMatch: ['**/*.test.ts'],
  // The shared model from source, so unit tests never run against a stale build.
  moduleNameMapper: {
    '^@ehr/ledger-model$': '<rootDir>/../ledger-model/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  setupFiles: ['<rootDir>/src/testing/quiet-logs.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
};
