// One Jest run, four projects: the three workspaces' unit tests and the
// integration/e2e suites that share one real network instance (globalSetup).
/** @type {import('jest').Config} */
module.exports = {
  projects: [
    '<rootDir>/ledger-model/jest.config.cjs',
    '<rootDir>/chaincode/jest.config.cjs',
    '<rootDir>/gateway/jest.config.cjs',
    '<rootDir>/e2e/jest.config.cjs',
  ],
};
