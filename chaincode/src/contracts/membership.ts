import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { conflict, forbidden } from '../errors';
import { emit } from '../events';
import { requireRole } from '../identity';
import { getMember, isDeparted, requireHospital } from '../lookups';
import { majority, type Consent } from '@ehr/ledger-model';
import { fromBytes, getJson, key, KEY, putJson, scan, txTime } from '../state';
import * as v from '../validate';

export interface DepartureView {
  mspId: string;
  approvals: string[];
  needed: number;
  departed: boolean;
  /** When the channel update that removed it was confirmed; null while it is still in the channel. */
  channelLeftAt: string | null;
}

/** The ledger's record of a departure: approved by a majority, then out of the channel. */
export interface Departure {
  approvals: string[];
  departedAt: string;
  channelLeftAt: string | null;
}

/**
 * A hospital leaves the consortium when a MAJORITY of the members' admins approve
 * it, each with its own identity (its own admin's approval counts: a voluntary
 * leave needs the others too). The channel configuration update that removes it
 * is signed by the same majority (network/lib/membership.sh); this is the
 * ledger's half: from then on it is no member, its consents are revoked and no
 * envelope, consent or request may name it. It still counts for the endorsement
 * majority (gateways size their endorser sets from ListHospitals) until a member
 * confirms that the channel update removed it (ConfirmChannelExit), so its gateway
 * can still purge its envelopes in between.
 */
@Info({ title: 'Membership', description: 'Departures of hospitals, approved by a majority of the members' })
export class MembershipContract extends Contract {
  constructor() {
    super('Membership');
  }

  @Transaction()
  @Returns('string')
  public async ApproveDeparture(ctx: Context, mspId: string): Promise<string> {
    const { mspId: approver } = requireRole(ctx, 'admin');
    const leaving = v.mspId(mspId);
    if (!(await getMember(ctx, approver))) throw forbidden(`${approver} is not a member of the consortium`);
    await requireHospital(ctx, leaving);
    if (await isDeparted(ctx, leaving)) throw conflict(`${leaving} has already left the consortium`);

    const members = await memberIds(ctx);
    const needed = majority(members.length);
    const earlier = (await scan(ctx, KEY.departure, [leaving])).map((r) => r.attributes[1]).filter((m) => members.includes(m));
    if (earlier.includes(approver)) return JSON.stringify(view(leaving, earlier, needed, null));
    const approvals = [...earlier, approver].sort();
    const at = txTime(ctx);
    await putJson(ctx, key(ctx, KEY.departure, leaving, approver), { approvedAt: at });
    if (approvals.length < needed) {
      emit(ctx, 'DepartureApproved', { mspId: leaving, approver });
      return JSON.stringify(view(leaving, approvals, needed, null));
    }

    // Consents to the leaving hospital end with its membership; its gateway purges
    // the envelopes they gave it when it sees the event.
    const patientIds = new Set<string>();
    for (const row of await scan(ctx, KEY.consent, [])) {
      const consent = fromBytes<Consent>(row.value);
      if (consent.grantee !== leaving || consent.status !== 'active') continue;
      await putJson(ctx, row.key, { ...consent, status: 'revoked', revokedAt: at });
      patientIds.add(consent.patientId);
    }
    const departure: Departure = { approvals, departedAt: at, channelLeftAt: null };
    await putJson(ctx, key(ctx, KEY.departed, leaving), departure);
    emit(ctx, 'HospitalDeparted', { mspId: leaving, patientIds: [...patientIds].sort() });
    return JSON.stringify(view(leaving, approvals, needed, departure));
  }

  /**
   * After the MAJORITY-signed channel update removed the departed hospital: it no
   * longer counts among the hospitals (ListHospitals), so endorsement plans need a
   * majority of the remaining ones. Any member's admin may confirm; the majority
   * decided already.
   */
  @Transaction()
  @Returns('string')
  public async ConfirmChannelExit(ctx: Context, mspId: string): Promise<string> {
    const { mspId: caller } = requireRole(ctx, 'admin');
    const leaving = v.mspId(mspId);
    if (!(await getMember(ctx, caller))) throw forbidden(`${caller} is not a member of the consortium`);
    const departure = await getJson<Departure>(ctx, key(ctx, KEY.departed, leaving));
    if (!departure) throw conflict(`${leaving} has not been approved to leave`);
    if (departure.channelLeftAt !== null) return JSON.stringify(view(leaving, departure.approvals, 0, departure));
    const confirmed: Departure = { ...departure, channelLeftAt: txTime(ctx) };
    await putJson(ctx, key(ctx, KEY.departed, leaving), confirmed);
    emit(ctx, 'HospitalRemoved', { mspId: leaving });
    return JSON.stringify(view(leaving, departure.approvals, 0, confirmed));
  }

  @Transaction(false)
  @Returns('string')
  public async GetDeparture(ctx: Context, mspId: string): Promise<string> {
    const leaving = v.mspId(mspId);
    await requireHospital(ctx, leaving);
    const departure = await getJson<Departure>(ctx, key(ctx, KEY.departed, leaving));
    const members = await memberIds(ctx);
    const approvals = (await scan(ctx, KEY.departure, [leaving])).map((r) => r.attributes[1]).sort();
    return JSON.stringify(view(leaving, approvals, majority(members.length), departure ?? null));
  }
}

const view = (mspId: string, approvals: string[], needed: number, departure: Departure | null): DepartureView => ({
  mspId,
  approvals,
  needed,
  departed: departure !== null,
  channelLeftAt: departure?.channelLeftAt ?? null,
});

/** The registered hospitals whose departure was not approved: those that vote. */
export async function memberIds(ctx: Context): Promise<string[]> {
  const departed = new Set((await scan(ctx, KEY.departed, [])).map((r) => r.attributes[0]));
  return (await scan(ctx, KEY.hospital, [])).map((r) => r.attributes[0]).filter((m) => !departed.has(m));
}
