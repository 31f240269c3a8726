// Command mixedload drives an etcd v3 endpoint with a mixed clientv3 workload and
// fails (exit 1) on any error or any read that disagrees with what this program wrote.
//
// It is built offline against the etcd 3.4.23 clientv3 sources shipped by Debian's
// golang-etcd-server-dev (GOPATH=/usr/share/gocode, GO111MODULE=off); see
// bench/go/run.mjs, which builds it and runs it against real etcd and our server.
//
// Workload, per client goroutine (each owns the keys <prefix><client>/<n>, so the
// expected value of every key is known locally):
//
//	put            40%  Put of a random owned key with a fresh value
//	get            25%  linearizable Get of an owned key; value must be the last put
//	get-serial      5%  serializable Get (value must be the last put or absent: 1 member)
//	txn-cas        10%  Txn If(ModRevision(k) = known) Then(Put) Else(Get); must succeed
//	delete          5%  Delete of an owned key; deleted count must match
//	range-prefix    5%  Get --prefix over the client's keys with a limit; count checked
//	lease           5%  Grant(ttl 30 s), Put with the lease, TimeToLive, Revoke; key gone
//	txn-multi       5%  Txn of 3 puts; all three readable at the txn's revision
//
// plus one Watch on the whole prefix which must see revisions in increasing order and
// exactly as many events as the acknowledged writes made (deletes of absent keys make none).
//
// Output: a human summary on stderr and one JSON object on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

type opStats struct {
	count     int64
	errors    int64
	latencies []time.Duration
}

type result struct {
	Endpoint     string                        `json:"endpoint"`
	Clients      int                           `json:"clients"`
	DurationSec  float64                       `json:"durationSec"`
	TotalOps     int64                         `json:"totalOps"`
	OpsPerSec    float64                       `json:"opsPerSec"`
	Errors       int64                         `json:"errors"`
	FirstErrors  []string                      `json:"firstErrors"`
	WatchEvents  int64                         `json:"watchEvents"`
	WantEvents   int64                         `json:"wantEvents"`
	WatchProblem string                        `json:"watchProblem,omitempty"`
	Ops          map[string]map[string]float64 `json:"ops"`
}

type recorder struct {
	mu       sync.Mutex
	ops      map[string]*opStats
	errs     int64
	firstErr []string
}

func (r *recorder) record(op string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.ops[op]
	if s == nil {
		s = &opStats{}
		r.ops[op] = s
	}
	s.count++
	s.latencies = append(s.latencies, d)
	if err != nil {
		s.errors++
		r.errs++
		if len(r.firstErr) < 20 {
			r.firstErr = append(r.firstErr, fmt.Sprintf("%s: %v", op, err))
		}
	}
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}

type client struct {
	id       int
	cli      *clientv3.Client
	prefix   string
	keys     int
	valSize  int
	rnd      *rand.Rand
	expected map[string]string // key -> value; absent = deleted / never written
	modRev   map[string]int64
	seq      int
	events   *int64 // watch events this client's successful writes must produce
}

func (c *client) key(n int) string { return fmt.Sprintf("%s%d/%04d", c.prefix, c.id, n) }

func (c *client) value() string {
	c.seq++
	head := fmt.Sprintf("c%d-s%d-", c.id, c.seq)
	if len(head) >= c.valSize {
		return head
	}
	return head + strings.Repeat("x", c.valSize-len(head))
}

// one runs one randomly chosen operation and returns its name and error.
func (c *client) one(ctx context.Context) (string, error) {
	k := c.key(c.rnd.Intn(c.keys))
	p := c.rnd.Intn(100)
	switch {
	case p < 40:
		v := c.value()
		resp, err := c.cli.Put(ctx, k, v)
		if err != nil {
			return "put", err
		}
		c.expected[k] = v
		c.modRev[k] = resp.Header.Revision
		atomic.AddInt64(c.events, 1)
		return "put", nil
	case p < 65:
		resp, err := c.cli.Get(ctx, k)
		if err != nil {
			return "get", err
		}
		return "get", c.checkGet(k, resp, true)
	case p < 70:
		resp, err := c.cli.Get(ctx, k, clientv3.WithSerializable())
		if err != nil {
			return "get-serial", err
		}
		return "get-serial", c.checkGet(k, resp, true)
	case p < 80:
		v := c.value()
		known := c.modRev[k] // 0 when absent: ModRevision of a missing key compares as 0
		resp, err := c.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(k), "=", known)).
			Then(clientv3.OpPut(k, v)).
			Else(clientv3.OpGet(k)).
			Commit()
		if err != nil {
			return "txn-cas", err
		}
		if !resp.Succeeded {
			return "txn-cas", fmt.Errorf("txn on %s with mod_revision=%d failed although only this client writes it", k, known)
		}
		c.expected[k] = v
		c.modRev[k] = resp.Header.Revision
		atomic.AddInt64(c.events, 1)
		return "txn-cas", nil
	case p < 85:
		resp, err := c.cli.Delete(ctx, k)
		if err != nil {
			return "delete", err
		}
		_, had := c.expected[k]
		want := int64(0)
		if had {
			want = 1
		}
		if resp.Deleted != want {
			return "delete", fmt.Errorf("delete %s: deleted=%d, want %d", k, resp.Deleted, want)
		}
		delete(c.expected, k)
		delete(c.modRev, k)
		atomic.AddInt64(c.events, resp.Deleted)
		return "delete", nil
	case p < 90:
		pfx := fmt.Sprintf("%s%d/", c.prefix, c.id)
		resp, err := c.cli.Get(ctx, pfx, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return "range-prefix", err
		}
		if resp.Count != int64(len(c.expected)) {
			return "range-prefix", fmt.Errorf("count %s*: %d, want %d", pfx, resp.Count, len(c.expected))
		}
		return "range-prefix", nil
	case p < 95:
		lk := fmt.Sprintf("%s%d/lease", c.prefix, c.id)
		g, err := c.cli.Grant(ctx, 30)
		if err != nil {
			return "lease", err
		}
		if _, err := c.cli.Put(ctx, lk, "leased", clientv3.WithLease(g.ID)); err != nil {
			return "lease", err
		}
		atomic.AddInt64(c.events, 1)
		ttl, err := c.cli.TimeToLive(ctx, g.ID, clientv3.WithAttachedKeys())
		if err != nil {
			return "lease", err
		}
		if ttl.TTL <= 0 || len(ttl.Keys) != 1 || string(ttl.Keys[0]) != lk {
			return "lease", fmt.Errorf("timetolive %x: ttl=%d keys=%q", g.ID, ttl.TTL, ttl.Keys)
		}
		if _, err := c.cli.Revoke(ctx, g.ID); err != nil {
			return "lease", err
		}
		atomic.AddInt64(c.events, 1) // the revoke deletes the attached key
		gr, err := c.cli.Get(ctx, lk)
		if err != nil {
			return "lease", err
		}
		if len(gr.Kvs) != 0 {
			return "lease", fmt.Errorf("key %s still there after its lease %x was revoked", lk, g.ID)
		}
		return "lease", nil
	default:
		ks := []string{c.key(c.rnd.Intn(c.keys)), c.key(c.rnd.Intn(c.keys)), c.key(c.rnd.Intn(c.keys))}
		if ks[0] == ks[1] || ks[1] == ks[2] || ks[0] == ks[2] {
			return "txn-multi", nil // etcd rejects duplicate keys in one txn; not part of this test
		}
		v := c.value()
		resp, err := c.cli.Txn(ctx).Then(clientv3.OpPut(ks[0], v), clientv3.OpPut(ks[1], v), clientv3.OpPut(ks[2], v)).Commit()
		if err != nil {
			return "txn-multi", err
		}
		for _, kk := range ks {
			c.expected[kk] = v
			c.modRev[kk] = resp.Header.Revision
		}
		atomic.AddInt64(c.events, 3)
		for _, kk := range ks {
			g, err := c.cli.Get(ctx, kk, clientv3.WithRev(resp.Header.Revision))
			if err != nil {
				return "txn-multi", err
			}
			if err := c.checkGet(kk, g, false); err != nil {
				return "txn-multi", err
			}
		}
		return "txn-multi", nil
	}
}

func (c *client) checkGet(k string, resp *clientv3.GetResponse, checkRev bool) error {
	want, ok := c.expected[k]
	if !ok {
		if len(resp.Kvs) != 0 {
			return fmt.Errorf("get %s: got %q, want absent", k, resp.Kvs[0].Value)
		}
		return nil
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != want {
		return fmt.Errorf("get %s: got %d kvs, want value %q", k, len(resp.Kvs), want[:min(len(want), 20)])
	}
	if checkRev && resp.Kvs[0].ModRevision != c.modRev[k] {
		return fmt.Errorf("get %s: mod_revision %d, want %d", k, resp.Kvs[0].ModRevision, c.modRev[k])
	}
	return nil
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated endpoints")
	clients := flag.Int("clients", 32, "concurrent client goroutines")
	conns := flag.Int("conns", 4, "gRPC connections shared by the clients")
	duration := flag.Duration("duration", 10*time.Second, "how long to run")
	keys := flag.Int("keys", 100, "keys per client")
	valSize := flag.Int("val-size", 256, "value size in bytes")
	prefix := flag.String("prefix", "mixedload/", "key prefix")
	flag.Parse()

	eps := strings.Split(*endpoints, ",")
	var clis []*clientv3.Client
	for i := 0; i < *conns; i++ {
		cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
		if err != nil {
			fmt.Fprintf(os.Stderr, "mixedload: connect: %v\n", err)
			os.Exit(2)
		}
		defer cli.Close()
		clis = append(clis, cli)
	}

	// The watcher sees every event under the prefix; revisions must never go backwards
	// and (events of one revision aside) must increase.
	wctx, wcancel := context.WithCancel(context.Background())
	start0, err := clis[0].Get(context.Background(), "mixedload-start")
	if err != nil {
		fmt.Fprintf(os.Stderr, "mixedload: initial get: %v\n", err)
		os.Exit(2)
	}
	var watchEvents int64
	var watchProblem atomic.Value
	watchProblem.Store("")
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		last := start0.Header.Revision
		for wr := range clis[0].Watch(wctx, *prefix, clientv3.WithPrefix(), clientv3.WithRev(start0.Header.Revision+1)) {
			if err := wr.Err(); err != nil && wctx.Err() == nil {
				watchProblem.Store(err.Error())
				return
			}
			for _, ev := range wr.Events {
				if ev.Kv.ModRevision < last {
					watchProblem.Store(fmt.Sprintf("event revision %d after %d", ev.Kv.ModRevision, last))
				}
				last = ev.Kv.ModRevision
				atomic.AddInt64(&watchEvents, 1)
			}
		}
	}()

	rec := &recorder{ops: map[string]*opStats{}}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var wg sync.WaitGroup
	var wantEvents int64
	t0 := time.Now()
	for i := 0; i < *clients; i++ {
		c := &client{id: i, cli: clis[i%len(clis)], prefix: *prefix, keys: *keys, valSize: *valSize,
			rnd: rand.New(rand.NewSource(int64(i) + time.Now().UnixNano())), expected: map[string]string{}, modRev: map[string]int64{}, events: &wantEvents}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				opCtx, opCancel := context.WithTimeout(context.Background(), 10*time.Second)
				t := time.Now()
				op, err := c.one(opCtx)
				opCancel()
				rec.record(op, time.Since(t), err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	// Every successful write produced known events; the watcher must see exactly those.
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && atomic.LoadInt64(&watchEvents) < atomic.LoadInt64(&wantEvents); {
		time.Sleep(20 * time.Millisecond)
	}
	wcancel()
	<-watchDone

	res := result{Endpoint: *endpoints, Clients: *clients, DurationSec: elapsed.Seconds(), Errors: rec.errs,
		FirstErrors: rec.firstErr, WatchEvents: atomic.LoadInt64(&watchEvents), WantEvents: wantEvents, Ops: map[string]map[string]float64{}}
	if p := watchProblem.Load().(string); p != "" {
		res.WatchProblem = p
	} else if res.WatchEvents != wantEvents {
		res.WatchProblem = fmt.Sprintf("watch saw %d events, the acknowledged writes made %d", res.WatchEvents, wantEvents)
	}
	names := make([]string, 0, len(rec.ops))
	for n := range rec.ops {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "%-13s %9s %7s %9s %9s\n", "op", "count", "errors", "p50 ms", "p99 ms")
	for _, n := range names {
		s := rec.ops[n]
		sort.Slice(s.latencies, func(a, b int) bool { return s.latencies[a] < s.latencies[b] })
		res.TotalOps += s.count
		res.Ops[n] = map[string]float64{"count": float64(s.count), "errors": float64(s.errors),
			"p50ms": percentile(s.latencies, 0.5), "p99ms": percentile(s.latencies, 0.99)}
		fmt.Fprintf(os.Stderr, "%-13s %9d %7d %9.2f %9.2f\n", n, s.count, s.errors, percentile(s.latencies, 0.5), percentile(s.latencies, 0.99))
	}
	res.OpsPerSec = float64(res.TotalOps) / elapsed.Seconds()
	fmt.Fprintf(os.Stderr, "total %d ops in %.1f s = %.0f ops/s, %d errors, %d watch events\n",
		res.TotalOps, elapsed.Seconds(), res.OpsPerSec, res.Errors, res.WatchEvents)
	for _, e := range rec.firstErr {
		fmt.Fprintf(os.Stderr, "error: %s\n", e)
	}
	if res.WatchProblem != "" {
		fmt.Fprintf(os.Stderr, "watch problem: %s\n", res.WatchProblem)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if res.Errors > 0 || res.WatchProblem != "" || res.TotalOps == 0 {
		os.Exit(1)
	}
}
