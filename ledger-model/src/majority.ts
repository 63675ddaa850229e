/**
 * How many of `n` voters make a MAJORITY in Fabric's sense (the implicit
 * `MAJORITY` policy of a channel): more than half, so strictly more than n / 2.
 * With an even `n` exactly half is not enough (two of four can't decide alone),
 * which is why this is floor(n / 2) + 1 and not ceil(n / 2).
 *
 * The chaincode counts hospitals' approvals with it and the gateways size their
 * endorsement plans with it; both must agree with what the channel enforces.
 */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}
