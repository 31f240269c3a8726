/**
 * @module raft/quorum/majority
 *
 * Pure majority arithmetic over a set of voters (quorum/majority.go, without joint
 * configurations).
 *
 * Example: voters {1,2,3,4,5} with match indexes 1:9 2:7 3:7 4:3 5:2 → sorted descending
 * 9 7 7 3 2; a majority is 3 voters, so the committed index is the 3rd value, 7.
 */

/** Outcome of an election as far as the votes received allow to tell. */
export enum VoteResult {
  /** Neither a quorum of yes nor of no votes yet. */
  VotePending = 1,
  VoteLost = 2,
  VoteWon = 3,
}

/**
 * The largest index acknowledged by a majority of `voters`; `ackedIndex(id)` returns
 * the voter's acknowledged index (undefined counts as 0). An empty voter set returns
 * Infinity (so that an empty half of a configuration never constrains a commit),
 * as majority.go returns MaxUint64.
 */
export function committedIndex(voters: ReadonlySet<bigint>, ackedIndex: (id: bigint) => number | undefined): number {
  const n = voters.size;
  if (n === 0) return Infinity;
  const acked: number[] = [];
  for (const id of voters) acked.push(ackedIndex(id) ?? 0);
  acked.sort((a, b) => b - a);
  return acked[Math.floor(n / 2)]!;
}

/**
 * Tallies `votes` (true = granted) among `voters`: won with a majority of yes, lost
 * once a majority can no longer be reached, pending otherwise. An empty voter set wins
 * (majority.go VoteResult).
 */
export function voteResult(voters: ReadonlySet<bigint>, votes: ReadonlyMap<bigint, boolean>): VoteResult {
  if (voters.size === 0) return VoteResult.VoteWon;
  let yes = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) yes++;
  }
  const q = Math.floor(voters.size / 2) + 1;
  if (yes >= q) return VoteResult.VoteWon;
  if (yes + missing >= q) return VoteResult.VotePending;
  return VoteResult.VoteLost;
}
