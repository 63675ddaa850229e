import { contracts } from './index';

test('the module exports one contract per domain, under stable names', () => {
  const names = contracts.map((C) => (new C() as { getName(): string }).getName());
  expect(names).toEqual(['Hospitals', 'Patients', 'Records', 'Consents', 'AccessRequests', 'Access', 'Audit', 'Membership', 'EmergencyAccess', 'Research', 'Lists']);
});
