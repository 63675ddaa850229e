// Fabric keeps only the last setEvent of a transaction, so each transaction
// emits exactly one event. Names and payloads: LedgerEvents in @ehr/ledger-model.
import type { Context } from 'fabric-contract-api';
import type { EventName, LedgerEvents } from '@ehr/ledger-model';
import { toBytes } from './state';

export type { EventName, LedgerEvents } from '@ehr/ledger-model';

export function emit<N extends EventName>(ctx: Context, name: N, payload: LedgerEvents[N]): void {
  ctx.stub.setEvent(name, toBytes({ ...payload, txId: ctx.stub.getTxID() }));
}
