/**
 * @module server/etcdserver/api/v2stats
 * The member statistics of /v2/stats/self and /v2/stats/leader (etcd 3.4
 * etcdserver/api/v2stats server.go, leader.go): raft state, leader and since
 * when, and the MsgApp counts sent and received; per-follower success/fail
 * counts of appends. Not measured (left out, as etcd's omitempty does for zero):
 * the package and bandwidth rates; follower latencies are reported as 0.
 */
import { rfc3339Nano } from '../../../util/v2store/event.js';
import { goJsonString } from '../../../util/etcd-format/members.js';

/** Go's time.Duration.String() of `ns` nanoseconds (e.g. "2.629493426s", "1m2.5s", "1h0m0s", "350ms"). */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  let out: string;
  if (u < 1_000_000_000n) {
    // sub-second: ns, µs or ms with a fraction
    let unit: string;
    let div: bigint;
    if (u < 1000n) return `${neg ? '-' : ''}${u}ns`;
    if (u < 1_000_000n) {
      unit = 'µs';
      div = 1000n;
    } else {
      unit = 'ms';
      div = 1_000_000n;
    }
    out = fracString(u, div) + unit;
  } else {
    const h = u / 3_600_000_000_000n;
    u -= h * 3_600_000_000_000n;
    const m = u / 60_000_000_000n;
    u -= m * 60_000_000_000n;
    out = fracString(u, 1_000_000_000n) + 's';
    if (h > 0n) out = `${h}h${m}m${out}`;
    else if (m > 0n) out = `${m}m${out}`;
  }
  return (neg ? '-' : '') + out;
}

function fracString(v: bigint, div: bigint): string {
  const whole = v / div;
  const frac = v % div;
  if (frac === 0n) return String(whole);
  const digits = div.toString().length - 1;
  return `${whole}.${frac.toString().padStart(digits, '0').replace(/0+$/, '')}`;
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** Raft state names as etcd's StateType marshals them. */
const STATE_NAMES = ['StateFollower', 'StateCandidate', 'StateLeader', 'StatePreCandidate'];

/** Per-follower append counts (FollowerStats.Counts). */
interface FollowerCounts {
  success: number;
  fail: number;
}

/** The member's statistics (ServerStats + LeaderStats). */
export class ServerStats {
  private readonly startTime = nowNs();
  private state = 0;
  private leader = 0n;
  private leaderSince = nowNs();
  private recvAppend = 0;
  private sendAppend = 0;
  private readonly followers = new Map<bigint, FollowerCounts>();

  constructor(
    private readonly name: string,
    private readonly id: bigint,
  ) {}

  /** A raft soft state change: state index (raft StateType) and leader ID. */
  setState(state: number, leader: bigint): void {
    this.state = state;
    if (leader !== this.leader) {
      this.leader = leader;
      this.leaderSince = nowNs();
      if (leader === this.id) this.followers.clear();
    }
  }

  /** A MsgApp received from the leader (RecvAppendReq). */
  recvAppendReq(): void {
    this.recvAppend++;
  }

  /** A MsgApp sent to a follower (SendAppendReq). */
  sendAppendReq(): void {
    this.sendAppend++;
  }

  /** A follower's append response: success, or a rejection (FollowerStats.Succ / Fail). */
  appendResp(from: bigint, reject: boolean): void {
    let c = this.followers.get(from);
    if (!c) {
      c = { success: 0, fail: 0 };
      this.followers.set(from, c);
    }
    if (reject) c.fail++;
    else c.success++;
  }

  /** /v2/stats/self's JSON (ServerStats.JSON). */
  selfJson(): string {
    const hex = (id: bigint) => id.toString(16);
    return (
      `{"name":${goJsonString(this.name)},"id":"${hex(this.id)}","state":"${STATE_NAMES[this.state] ?? 'StateFollower'}",` +
      `"startTime":"${rfc3339Nano(this.startTime)}",` +
      `"leaderInfo":{"leader":"${this.leader === 0n ? '0' : hex(this.leader)}","uptime":"${goDuration(nowNs() - this.leaderSince)}","startTime":"${rfc3339Nano(this.leaderSince)}"},` +
      `"recvAppendRequestCnt":${this.recvAppend},"sendAppendRequestCnt":${this.sendAppend}}`
    );
  }

  /** /v2/stats/leader's JSON, undefined when this member is not the leader (LeaderStats.JSON). */
  leaderJson(followerIds: readonly bigint[]): string | undefined {
    if (this.state !== 2) return undefined;
    const fs = followerIds
      .filter((id) => id !== this.id)
      .map((id) => {
        const c = this.followers.get(id) ?? { success: 0, fail: 0 };
        return `"${id.toString(16)}":{"latency":{"current":0,"average":0,"standardDeviation":0,"minimum":0,"maximum":0},"counts":{"fail":${c.fail},"success":${c.success}}}`;
      });
    return `{"leader":"${this.id.toString(16)}","followers":{${fs.join(',')}}}`;
  }
}
