// Command loadgen is the Go load generator of bench/server.mjs (--generator=go) and
// bench/cluster.mjs: closed-loop loads sent with etcd's clientv3 (grpc-go), which costs
// much less CPU per request than grpc-js. Built offline like bench/go/mixedload.
//
// Kinds (--kind), keys "<prefix><n>" for n in [0, --keys), --clients requests in flight:
//
//	put        KV.Put of a random key, --val-size bytes
//	get        linearizable KV.Range of one random key
//	sget       serializable KV.Range of one random key
//	txn        KV.Txn: if mod_revision(key) > 0 then put(key) (the key must exist: an
//	           unsucceeded txn counts as an error)
//	range1000  KV.Range of the whole prefix (limit 0); a response without exactly --keys
//	           keys counts as an error (fill the prefix first)
//	watch      --watchers watches on the prefix (one clientv3 Watch each, spread over the
//	           --conns connections, each connection's watches on one gRPC stream), created
//	           before the clock starts; then puts as `put` for --duration (none with
//	           --clients=0: the watches are only held open for --duration). Every event the
//	           watchers receive is counted; after the puts it waits (at most 10 s without
//	           progress) until watchers*puts events have arrived.
//	lease      --leases LeaseGrant calls (TTL --lease-ttl s) with --clients in flight, then
//	           clientv3 KeepAlive on every lease for --duration (clientv3 sends one keepalive
//	           per lease every TTL/3 s, on one LeaseKeepAlive stream per connection).
//
// --fill: put keys in order instead (--count puts, default --keys, cycling over the
// keyspace), then exit.
//
// Prints one JSON object on stdout: {"ok","errors","errorSamples","elapsedMs","latenciesMs"
// (sorted sample, at most 100000), "cpuSeconds" (this process, user+system)}; watch adds
// "watchers","events","eventsExpected","eventsElapsedMs" (puts' start to the last event),
// "watchErrors"; lease adds "keepAlives" (responses received), "keepAliveElapsedMs",
// "leasesLost" (keepalive channels closed early) — for lease, ok/latencies/elapsedMs are
// the grants'. Progress marks go to stderr as lines "MARK <name>" (watch: watchers-ready,
// hold-end; lease: keepalive-start, keepalive-end) so the caller can sample the server
// (CPU, memory) at those points.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
)

// stats collects the results of the closed-loop goroutines.
type stats struct {
	mu      sync.Mutex
	lat     []float64
	ok      int64
	errs    int64
	samples []string
}

func (s *stats) merge(lat []float64, ok, errs int64, samples []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lat = append(s.lat, lat...)
	s.ok += ok
	s.errs += errs
	for _, m := range samples {
		if len(s.samples) < 5 {
			s.samples = append(s.samples, m)
		}
	}
}

func (s *stats) addError(err error) {
	s.merge(nil, 0, 1, []string{err.Error()})
}

func mark(name string) {
	fmt.Fprintf(os.Stderr, "MARK %s\n", name)
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", a...)
	os.Exit(2)
}

// closedLoop runs `clients` goroutines; each calls next() for a key index (false: stop)
// and op(cli, key index) until then, recording latencies of successful calls.
func closedLoop(st *stats, clis []*clientv3.Client, clients int, next func(r *rand.Rand) (int, bool), op func(ctx context.Context, cli *clientv3.Client, n int) error) {
	var wg sync.WaitGroup
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			cli := clis[g%len(clis)]
			r := rand.New(rand.NewSource(time.Now().UnixNano() + int64(g)))
			var mine []float64
			var myOk, myErr int64
			var mySamples []string
			for {
				n, more := next(r)
				if !more {
					break
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				s := time.Now()
				err := op(ctx, cli, n)
				d := time.Since(s)
				cancel()
				if err != nil {
					myErr++
					if len(mySamples) < 3 {
						mySamples = append(mySamples, err.Error())
					}
				} else {
					myOk++
					mine = append(mine, float64(d.Microseconds())/1000)
				}
			}
			st.merge(mine, myOk, myErr, mySamples)
		}(g)
	}
	wg.Wait()
}

func main() {
	endpoint := flag.String("endpoint", "", "host:port, or several comma-separated (connection i uses endpoint i mod n)")
	kind := flag.String("kind", "put", "put | get | sget | txn | range1000 | watch | lease")
	clients := flag.Int("clients", 100, "requests in flight")
	conns := flag.Int("conns", 4, "gRPC connections")
	duration := flag.Duration("duration", 5*time.Second, "how long")
	keys := flag.Int("keys", 10000, "keyspace size")
	prefix := flag.String("prefix", "bench/", "key prefix")
	valSize := flag.Int("val-size", 256, "value bytes")
	fill := flag.Bool("fill", false, "put keys in order (--count puts), then exit")
	count := flag.Int("count", 0, "with --fill: number of puts (default --keys), cycling over the keyspace")
	watchers := flag.Int("watchers", 1000, "watch: watches on the prefix")
	leases := flag.Int("leases", 10000, "lease: leases to grant and keep alive")
	leaseTTL := flag.Int64("lease-ttl", 3, "lease: TTL in seconds")
	flag.Parse()
	kinds := map[string]bool{"put": true, "get": true, "sget": true, "txn": true, "range1000": true, "watch": true, "lease": true}
	if *endpoint == "" || !kinds[*kind] {
		fail("need --endpoint and --kind=put|get|sget|txn|range1000|watch|lease")
	}
	if *conns < 1 || *keys < 1 {
		fail("--conns and --keys must be >= 1")
	}
	if *count == 0 {
		*count = *keys
	}
	var clis []*clientv3.Client
	eps := strings.Split(*endpoint, ",")
	for i := 0; i < *conns; i++ {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{eps[i%len(eps)]}, DialTimeout: 10 * time.Second})
		if err != nil {
			fail("%v", err)
		}
		defer c.Close()
		clis = append(clis, c)
	}
	keyNames := make([]string, *keys)
	for i := range keyNames {
		keyNames[i] = fmt.Sprintf("%s%d", *prefix, i)
	}
	value := strings.Repeat("v", *valSize)

	// Key choice: in order for --fill, random until the deadline otherwise.
	var end time.Time
	var nextFill int64 = -1
	next := func(r *rand.Rand) (int, bool) {
		if *fill {
			n := atomic.AddInt64(&nextFill, 1)
			if n >= int64(*count) {
				return 0, false
			}
			return int(n % int64(*keys)), true
		}
		if !time.Now().Before(end) {
			return 0, false
		}
		return r.Intn(*keys), true
	}
	put := func(ctx context.Context, cli *clientv3.Client, n int) error {
		_, err := cli.Put(ctx, keyNames[n], value)
		return err
	}
	ops := map[string]func(ctx context.Context, cli *clientv3.Client, n int) error{
		"put":   put,
		"watch": put,
		"get": func(ctx context.Context, cli *clientv3.Client, n int) error {
			_, err := cli.Get(ctx, keyNames[n])
			return err
		},
		"sget": func(ctx context.Context, cli *clientv3.Client, n int) error {
			_, err := cli.Get(ctx, keyNames[n], clientv3.WithSerializable())
			return err
		},
		"txn": func(ctx context.Context, cli *clientv3.Client, n int) error {
			k := keyNames[n]
			resp, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), ">", 0)).Then(clientv3.OpPut(k, value)).Commit()
			if err == nil && !resp.Succeeded {
				err = fmt.Errorf("txn on %s did not succeed (mod_revision compare false: key missing?)", k)
			}
			return err
		},
		"range1000": func(ctx context.Context, cli *clientv3.Client, n int) error {
			resp, err := cli.Get(ctx, *prefix, clientv3.WithPrefix())
			if err == nil && len(resp.Kvs) != *keys {
				err = fmt.Errorf("range of %s returned %d keys, want %d", *prefix, len(resp.Kvs), *keys)
			}
			return err
		},
	}

	st := &stats{}
	extra := map[string]interface{}{}
	var elapsed time.Duration
	switch {
	case *fill:
		t0 := time.Now()
		closedLoop(st, clis, *clients, next, put)
		elapsed = time.Since(t0)
	case *kind == "watch":
		elapsed = runWatch(st, extra, clis, *watchers, *clients, *prefix, *duration, &end, next, put)
	case *kind == "lease":
		elapsed = runLease(st, extra, clis, *leases, *leaseTTL, *clients, *duration)
	default:
		t0 := time.Now()
		end = t0.Add(*duration)
		closedLoop(st, clis, *clients, next, ops[*kind])
		elapsed = time.Since(t0)
	}

	lat := st.lat
	sort.Float64s(lat)
	if len(lat) > 100000 { // keep an evenly spaced sample so the JSON stays small
		step := float64(len(lat)) / 100000
		s := make([]float64, 100000)
		for i := range s {
			s[i] = lat[int(float64(i)*step)]
		}
		lat = s
	}
	if lat == nil {
		lat = []float64{}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	samples := st.samples
	if samples == nil {
		samples = []string{}
	}
	res := map[string]interface{}{"ok": st.ok, "errors": st.errs, "errorSamples": samples,
		"elapsedMs": float64(elapsed.Microseconds()) / 1000, "latenciesMs": lat, "cpuSeconds": cpu}
	for k, v := range extra {
		res[k] = v
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

// runWatch opens the watches, then runs the put load (or holds the watches when clients
// is 0) and counts the events delivered. Returns the put phase's duration.
func runWatch(st *stats, extra map[string]interface{}, clis []*clientv3.Client, watchers, clients int, prefix string,
	duration time.Duration, end *time.Time, next func(*rand.Rand) (int, bool),
	put func(context.Context, *clientv3.Client, int) error) time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var events, watchErrs, lastEvent int64
	var created sync.WaitGroup
	var drained sync.WaitGroup
	var errMu sync.Mutex
	var watchSamples []string
	for i := 0; i < watchers; i++ {
		created.Add(1)
		drained.Add(1)
		wch := clis[i%len(clis)].Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
		go func() {
			defer drained.Done()
			isCreated := false
			for resp := range wch {
				if !isCreated {
					isCreated = true
					created.Done()
				}
				if err := resp.Err(); err != nil && ctx.Err() == nil {
					atomic.AddInt64(&watchErrs, 1)
					errMu.Lock()
					if len(watchSamples) < 3 {
						watchSamples = append(watchSamples, err.Error())
					}
					errMu.Unlock()
					continue
				}
				if n := len(resp.Events); n > 0 {
					atomic.AddInt64(&events, int64(n))
					atomic.StoreInt64(&lastEvent, time.Now().UnixNano())
				}
			}
			if !isCreated {
				atomic.AddInt64(&watchErrs, 1)
				created.Done()
			}
		}()
	}
	createdCh := make(chan struct{})
	go func() { created.Wait(); close(createdCh) }()
	select {
	case <-createdCh:
	case <-time.After(120 * time.Second):
		fail("watch: the %d watches were not all created within 120 s", watchers)
	}
	mark("watchers-ready")
	var elapsed time.Duration
	var expected int64
	t0 := time.Now()
	if clients == 0 {
		time.Sleep(duration)
		mark("hold-end")
	} else {
		*end = t0.Add(duration)
		closedLoop(st, clis, clients, next, put)
		elapsed = time.Since(t0)
		// Wait for the events still on their way; give up after 10 s without progress.
		expected = st.ok * int64(watchers)
		last, lastChange := int64(-1), time.Now()
		for atomic.LoadInt64(&events) < expected && time.Since(lastChange) < 10*time.Second {
			if n := atomic.LoadInt64(&events); n != last {
				last, lastChange = n, time.Now()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	got := atomic.LoadInt64(&events)
	evElapsed := 0.0
	if got > 0 {
		evElapsed = float64(time.Duration(atomic.LoadInt64(&lastEvent)-t0.UnixNano()).Microseconds()) / 1000
	}
	cancel()
	extra["watchers"] = watchers
	extra["events"] = got
	extra["eventsExpected"] = expected
	extra["eventsElapsedMs"] = evElapsed
	extra["watchErrors"] = atomic.LoadInt64(&watchErrs)
	if watchSamples == nil {
		watchSamples = []string{}
	}
	extra["watchErrorSamples"] = watchSamples
	return elapsed
}

// runLease grants the leases, then keeps them all alive for duration. Returns the grant
// phase's duration.
func runLease(st *stats, extra map[string]interface{}, clis []*clientv3.Client, leases int, ttl int64, clients int, duration time.Duration) time.Duration {
	ids := make([]clientv3.LeaseID, leases)
	var nextLease int64 = -1
	t0 := time.Now()
	closedLoop(st, clis, clients, func(*rand.Rand) (int, bool) {
		n := atomic.AddInt64(&nextLease, 1)
		return int(n), n < int64(leases)
	}, func(ctx context.Context, cli *clientv3.Client, n int) error {
		resp, err := cli.Grant(ctx, ttl)
		if err == nil {
			ids[n] = resp.ID
		}
		return err
	})
	elapsed := time.Since(t0)
	mark("keepalive-start")
	ctx, cancel := context.WithCancel(context.Background())
	var kas, lost int64
	var wg sync.WaitGroup
	k0 := time.Now()
	for i, id := range ids {
		if id == 0 {
			continue
		}
		ch, err := clis[i%len(clis)].KeepAlive(ctx, id)
		if err != nil {
			st.addError(errors.New("keepalive: " + err.Error()))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range ch {
				atomic.AddInt64(&kas, 1)
			}
			if ctx.Err() == nil {
				atomic.AddInt64(&lost, 1)
			}
		}()
	}
	time.Sleep(duration - time.Since(k0))
	kElapsed := time.Since(k0)
	n := atomic.LoadInt64(&kas)
	lostNow := atomic.LoadInt64(&lost)
	mark("keepalive-end")
	cancel()
	wg.Wait()
	extra["keepAlives"] = n
	extra["keepAliveElapsedMs"] = float64(kElapsed.Microseconds()) / 1000
	extra["leasesLost"] = lostNow
	return elapsed
}
