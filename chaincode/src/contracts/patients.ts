import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { conflict, forbidden, invalid } from '../errors';
import { emit } from '../events';
import { requireRole } from '../identity';
import { requirePatient } from '../lookups';
import { inPatientNamespace, patientNamespace, type Patient } from '@ehr/ledger-model';
import { exists, key, KEY, putJson, txTime } from '../state';
import * as v from '../validate';

@Info({ title: 'Patients', description: 'Patient pseudonyms and their home hospital' })
export class PatientsContract extends Contract {
  constructor() {
    super('Patients');
  }

  /** The calling hospital becomes the home hospital: the one that answers for the patient's consent. */
  @Transaction()
  @Returns('string')
  public async RegisterPatient(ctx: Context, patientId: string, actor: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.patientId(patientId);
    const who = v.actor(actor);
    if (who.role !== 'clinician' && who.role !== 'admin') {
      throw forbidden('patients are registered by a clinician or an admin');
    }
    // A hospital registers patients only in its own namespace, so no hospital can
    // capture another's patient IDs (and the envelopes that follow them). Checked
    // before existence: the answer says nothing about other hospitals' patients.
    if (!inPatientNamespace(id, mspId)) {
      throw invalid(`patient IDs registered by ${mspId} start with '${patientNamespace(mspId)}' (its namespace), e.g. '${patientNamespace(mspId)}pat-001'`);
    }
    const k = key(ctx, KEY.patient, id);
    if (await exists(ctx, k)) throw conflict(`patient ${id} already exists`);
    // registeredBy: the audit trail names who registered the patient (not returned: the
    // pseudonym of the home hospital's clinician is no other hospital's business).
    const patient: Patient = { homeHospital: mspId, registeredAt: txTime(ctx), registeredBy: who.id };
    await putJson(ctx, k, patient);
    emit(ctx, 'PatientRegistered', { patientId: id, homeHospital: mspId });
    return JSON.stringify({ patientId: id, ...publicView(patient) });
  }

  @Transaction(false)
  @Returns('string')
  public async GetPatient(ctx: Context, patientId: string): Promise<string> {
    const id = v.patientId(patientId);
    return JSON.stringify({ patientId: id, ...publicView(await requirePatient(ctx, id)) });
  }
}

function publicView(patient: Patient): Omit<Patient, 'registeredBy'> {
  return { homeHospital: patient.homeHospital, registeredAt: patient.registeredAt };
}
