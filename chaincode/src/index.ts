// Entry point for fabric-chaincode-node: it loads `contracts` from this module.
import { AccessRequestsContract } from './contracts/access-requests';
import { AccessContract } from './contracts/access';
import { AuditContract } from './contracts/audit';
import { ConsentsContract } from './contracts/consents';
import { EmergencyAccessContract } from './contracts/emergency-access';
import { HospitalsContract } from './contracts/hospitals';
import { MembershipContract } from './contracts/membership';
import { ListsContract } from './contracts/lists';
import { PatientsContract } from './contracts/patients';
import { RecordsContract } from './contracts/records';
import { ResearchContract } from './contracts/research';

export {
  AccessContract,
  AccessRequestsContract,
  AuditContract,
  ConsentsContract,
  EmergencyAccessContract,
  HospitalsContract,
  MembershipContract,
  ListsContract,
  PatientsContract,
  RecordsContract,
  ResearchContract,
};

export const contracts: (new () => object)[] = [
  HospitalsContract,
  PatientsContract,
  RecordsContract,
  ConsentsContract,
  AccessRequestsContract,
  AccessContract,
  AuditContract,
  MembershipContract,
  EmergencyAccessContract,
  ResearchContract,
  ListsContract,
];
