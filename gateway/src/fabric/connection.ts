import * as grpc from '@grpc/grpc-js';
import { connect, hash, type Contract, type Gateway, type Network } from '@hyperledger/fabric-gateway';
import { peer } from '@hyperledger/fabric-protos';
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DEFAULT_RETRY_POLICY, ResilientContract, type ResilienceHooks, type RetryPolicy } from './resilient.js';
import { newNativeSigner } from './signer.js';

export interface FabricConnectionOptions {
  mspId: string;
  /** host:port of the hospital's own peer (Fabric Gateway service). */
  peerEndpoint: string;
  /** TLS host name override when the endpoint's address is not in the peer's certificate. */
  peerHostAlias?: string;
  tlsRootCertPath: string;
  certPath: string;
  keyPath: string;
  channel: string;
  chaincode: string;
  deadlines: { evaluateMs: number; endorseMs: number; submitMs: number; commitStatusMs: number };
  /** Fail-over of writes and reads; the commit wait is `deadlines.commitStatusMs`. */
  retry?: Omit<RetryPolicy, 'commitWaitMs'>;
  /** Told about every retry (for logs). */
  onRetry?: ResilienceHooks['onRetry'];
}

/**
 * The gateway's one long-lived gRPC connection to its peer, reused by every
 * request; closed once at shutdown.
 */
export class FabricConnection {
  private constructor(
    readonly client: grpc.Client,
    readonly gateway: Gateway,
    readonly network: Network,
    readonly contract: Contract,
    /** The chaincode with fail-over: what the ledger adapter reads and writes through. */
    readonly resilient: ResilientContract,
  ) {}

  static async open(options: FabricConnectionOptions): Promise<FabricConnection> {
    const [tlsRoot, cert, key] = await Promise.all([
      readFile(options.tlsRootCertPath),
      readFile(options.certPath),
      readFile(options.keyPath),
    ]);
    const grpcOptions: grpc.ClientOptions = {
      'grpc.keepalive_time_ms': 120_000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    };
    if (options.peerHostAlias) grpcOptions['grpc.ssl_target_name_override'] = options.peerHostAlias;
    const client = new grpc.Client(options.peerEndpoint, grpc.credentials.createSsl(tlsRoot), grpcOptions);
    const d = options.deadlines;
    const gateway = connect({
      client,
      identity: { mspId: options.mspId, credentials: cert },
      // The native signer hashes as it signs: the gateway hands it whole messages.
      signer: newNativeSigner(createPrivateKey(key)),
      hash: hash.none,
      evaluateOptions: () => ({ deadline: Date.now() + d.evaluateMs }),
      endorseOptions: () => ({ deadline: Date.now() + d.endorseMs }),
      submitOptions: () => ({ deadline: Date.now() + d.submitMs }),
      commitStatusOptions: () => ({ deadline: Date.now() + d.commitStatusMs }),
    });
    const network = gateway.getNetwork(options.channel);
    const contract = network.getContract(options.chaincode);
    const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry, commitWaitMs: d.commitStatusMs };
    const resilient = new ResilientContract(contract, (txId) => transactionValidationCode(network, txId), policy, {
      onRetry: options.onRetry,
    });
    return new FabricConnection(client, gateway, network, contract, resilient);
  }

  /** True when the peer answers a ledger query on the channel. */
  async healthy(): Promise<boolean> {
    try {
      await this.network.getContract('qscc').evaluateTransaction('GetChainInfo', this.network.getName());
      return true;
    } catch {
      return false;
    }
  }

  /** The validation code of a transaction in this peer's ledger; `undefined` when the peer does not have it. */
  async transactionValidationCode(txId: string): Promise<number | undefined> {
    return transactionValidationCode(this.network, txId);
  }

  close(): void {
    this.gateway.close();
    this.client.close();
  }
}

/**
 * qscc GetTransactionByID on the hospital's own peer. The peer answers an error for an unknown
 * transaction ID; any failure reads as "not there", which makes the caller resubmit the same
 * envelope: harmless, since a transaction ID commits at most once.
 */
async function transactionValidationCode(network: Network, txId: string): Promise<number | undefined> {
  try {
    const bytes = await network.getContract('qscc').evaluateTransaction('GetTransactionByID', network.getName(), txId);
    return peer.ProcessedTransaction.deserializeBinary(bytes).getValidationcode();
  } catch {
    return undefined;
  }
}
