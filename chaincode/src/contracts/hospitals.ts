import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { conflict } from '../errors';
import { emit } from '../events';
import { requireRole } from '../identity';
import { getHospital, requireHospital } from '../lookups';
import type { Hospital } from '@ehr/ledger-model';
import { p256PublicKey } from '../public-key';
import { fromBytes, key, KEY, putJson, scan, txTime } from '../state';
import * as v from '../validate';

export interface HospitalView extends Hospital {
  mspId: string;
}

@Info({ title: 'Hospitals', description: 'Consortium members and their envelope encryption keys' })
export class HospitalsContract extends Contract {
  constructor() {
    super('Hospitals');
  }

  /** A hospital registers only itself: the MSP comes from the caller's certificate, never an argument. */
  @Transaction()
  @Returns('string')
  public async RegisterHospital(ctx: Context, name: string, publicKey: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'admin', 'gateway');
    const hospital: Hospital = { name: v.hospitalName(name), publicKey: p256PublicKey(publicKey), registeredAt: txTime(ctx) };
    if (await getHospital(ctx, mspId)) throw conflict(`hospital ${mspId} is already registered`);
    await putJson(ctx, key(ctx, KEY.hospital, mspId), hospital);
    emit(ctx, 'HospitalRegistered', { mspId });
    return JSON.stringify({ mspId, ...hospital });
  }

  @Transaction()
  @Returns('string')
  public async RotateKey(ctx: Context, publicKey: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'admin', 'gateway');
    const pem = p256PublicKey(publicKey);
    const hospital = await requireHospital(ctx, mspId);
    const updated: Hospital = { ...hospital, publicKey: pem };
    await putJson(ctx, key(ctx, KEY.hospital, mspId), updated);
    emit(ctx, 'HospitalKeyRotated', { mspId });
    return JSON.stringify({ mspId, ...updated });
  }

  @Transaction(false)
  @Returns('string')
  public async GetHospital(ctx: Context, mspId: string): Promise<string> {
    const id = v.mspId(mspId);
    return JSON.stringify({ mspId: id, ...(await requireHospital(ctx, id)) });
  }

  @Transaction(false)
  @Returns('string')
  public async ListHospitals(ctx: Context): Promise<string> {
    // The channel's hospitals: one that left the channel counts for no endorsement majority
    // (a departed one still in the channel does, until ConfirmChannelExit).
    const gone = new Set(
      (await scan(ctx, KEY.departed, [])).filter((r) => fromBytes<{ channelLeftAt: string | null }>(r.value).channelLeftAt !== null).map((r) => r.attributes[0]),
    );
    const rows = (await scan(ctx, KEY.hospital, [])).filter((r) => !gone.has(r.attributes[0]));
    const list: HospitalView[] = rows.map((r) => ({ mspId: r.attributes[0], ...fromBytes<Hospital>(r.value) }));
    return JSON.stringify(list);
  }
}
