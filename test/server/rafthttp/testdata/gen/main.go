// Prints raftpb encodings made by etcd 3.4's generated gogoproto code, as JSON
// {"name": "hex", ...}. Run offline with:
//   GO111MODULE=off GOPATH=/usr/share/gocode go run ./test/server/rafthttp/testdata/gen
// Output is committed as ../raftpb-fixtures.json; raftpb.test.ts regenerates and
// compares when go is available.
package main

import (
	"encoding/hex"
	"encoding/json"
	"os"

	"go.etcd.io/etcd/raft/raftpb"
)

type marshaler interface{ Marshal() ([]byte, error) }

func main() {
	out := map[string]string{}
	add := func(name string, m marshaler) {
		b, err := m.Marshal()
		if err != nil {
			panic(err)
		}
		out[name] = hex.EncodeToString(b)
	}
	big := uint64(0x8e9e05c52164694d)
	add("msg_empty", &raftpb.Message{})
	add("msg_heartbeat", &raftpb.Message{Type: raftpb.MsgHeartbeat, To: big, From: 2, Term: 7, Commit: 42, Context: []byte("rctx")})
	add("msg_app", &raftpb.Message{Type: raftpb.MsgApp, To: 2, From: big, Term: 5, LogTerm: 4, Index: 100, Commit: 99,
		Entries: []raftpb.Entry{
			{Term: 5, Index: 101, Type: raftpb.EntryNormal, Data: []byte("hello")},
			{Term: 5, Index: 102, Type: raftpb.EntryConfChange, Data: []byte{0x08, 0x01, 0x10, 0x00, 0x18, 0x03}},
			{Term: 5, Index: 103},
		}})
	add("msg_app_resp_reject", &raftpb.Message{Type: raftpb.MsgAppResp, To: big, From: 3, Term: 9, Index: 50, Reject: true, RejectHint: 48})
	add("msg_vote", &raftpb.Message{Type: raftpb.MsgPreVote, To: 1, From: 2, Term: 1 << 40, LogTerm: 3, Index: 1<<53 - 1, Context: []byte{}})
	add("msg_snap", &raftpb.Message{Type: raftpb.MsgSnap, To: 3, From: 1, Term: 4,
		Snapshot: raftpb.Snapshot{Data: []byte("v2store"), Metadata: raftpb.SnapshotMetadata{
			ConfState: raftpb.ConfState{Voters: []uint64{1, 2, big}, Learners: []uint64{4}}, Index: 1000, Term: 3}}})
	add("entry_normal", &raftpb.Entry{Term: 3, Index: 300, Type: raftpb.EntryNormal, Data: []byte{0, 1, 2, 255}})
	add("entry_empty", &raftpb.Entry{Term: 1, Index: 1})
	add("hardstate", &raftpb.HardState{Term: 12, Vote: big, Commit: 1 << 35})
	add("hardstate_empty", &raftpb.HardState{})
	add("snapshot", &raftpb.Snapshot{Data: []byte("x"), Metadata: raftpb.SnapshotMetadata{ConfState: raftpb.ConfState{Voters: []uint64{7}}, Index: 5, Term: 2}})
	add("confstate", &raftpb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{big}})
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}
