// Entry point for fabric-chaincode-node: it loads `contracts` from this module.
import { AccessRequestsContract } from './contracts/access-requests';
import { AccessContract } from './contracts/access';
import { AuditContract } from './contracts/audit';
import { ConsentsContract } from './contracts/consents';
import { HospitalsContract } from './contracts/hospitals';
import { ListsContract } from './contracts/lists';
import { PatientsContract } from './contracts/patients';
import { RecordsContract } from './contracts/records';

export {
  AccessContract,
  AccessRequestsContract,
  AuditContract,
  ConsentsContract,
  HospitalsContract,
  ListsContract,
  PatientsContract,
  RecordsContract,
};

export const contracts: (new () => object)[] = [
  HospitalsContract,
  PatientsContract,
  RecordsContract,
  ConsentsContract,
  AccessRequestsContract,
  AccessContract,
  AuditContract,
  ListsContract,
];
