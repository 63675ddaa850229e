import * as grpc from '@grpc/grpc-js';
import { connect, signers, type Gateway, type Identity, type Signer } from '@hyperledger/fabric-gateway';
import { common, msp, peer } from '@hyperledger/fabric-protos';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HospitalStatus } from './instance.js';

export interface Connection {
  gateway: Gateway;
  client: grpc.Client;
  close(): void;
}

/** A fabric-gateway connection to a hospital's own peer as one of its enrolled users. */
export function connectAs(h: HospitalStatus, user = 'gateway'): Connection {
  const tlsRoot = readFileSync(path.join(h.stateDir, 'peer', 'tls', 'ca.crt'));
  const client = new grpc.Client(h.peer.endpoint, grpc.credentials.createSsl(tlsRoot), {
    'grpc.ssl_target_name_override': h.peer.tlsServerName,
  });
  const mspDir = path.join(h.stateDir, 'users', user, 'msp');
  const identity: Identity = { mspId: h.mspId, credentials: readFileSync(path.join(mspDir, 'signcerts', 'cert.pem')) };
  const signer: Signer = signers.newPrivateKeySigner(createPrivateKey(readFileSync(path.join(mspDir, 'keystore', 'key.pem'))));
  const gateway = connect({
    client,
    identity,
    signer,
    evaluateOptions: () => ({ deadline: Date.now() + 10_000 }),
    endorseOptions: () => ({ deadline: Date.now() + 30_000 }),
    submitOptions: () => ({ deadline: Date.now() + 10_000 }),
    commitStatusOptions: () => ({ deadline: Date.now() + 60_000 }),
  });
  return {
    gateway,
    client,
    close() {
      gateway.close();
      client.close();
    },
  };
}

export interface CommittedTransaction {
  validationCode: number;
  endorserMspIds: string[];
}

/** Reads a committed transaction back from the ledger (qscc) and names its endorsing orgs. */
export async function committedTransaction(conn: Connection, channel: string, txId: string): Promise<CommittedTransaction> {
  const qscc = conn.gateway.getNetwork(channel).getContract('qscc');
  const bytes = await qscc.evaluateTransaction('GetTransactionByID', channel, txId);
  const processed = peer.ProcessedTransaction.deserializeBinary(bytes);
  const envelope = processed.getTransactionenvelope();
  if (!envelope) throw new Error(`transaction ${txId} has no envelope`);
  const payload = common.Payload.deserializeBinary(envelope.getPayload_asU8());
  const tx = peer.Transaction.deserializeBinary(payload.getData_asU8());
  const endorserMspIds = tx.getActionsList().flatMap((action) => {
    const ccPayload = peer.ChaincodeActionPayload.deserializeBinary(action.getPayload_asU8());
    return (ccPayload.getAction()?.getEndorsementsList() ?? []).map(
      (e) => msp.SerializedIdentity.deserializeBinary(e.getEndorser_asU8()).getMspid(),
    );
  });
  return { validationCode: processed.getValidationcode(), endorserMspIds: [...new Set(endorserMspIds)].sort() };
}
