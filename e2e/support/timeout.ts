import { jest } from '@jest/globals';

// Suites here start and stop real components; Jest's per-project testTimeout
// is not honoured when projects are selected from the root configuration.
jest.setTimeout(180_000);
