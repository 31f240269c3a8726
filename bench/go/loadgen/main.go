// Command loadgen is the Go load generator of bench/server.mjs (--generator=go): the same
// loads as bench/lib/load-worker.mjs (puts of random keys with fixed-size values, or
// linearizable gets of random keys), sent with etcd's clientv3 (grpc-go), which costs
// much less CPU per request than grpc-js. Built offline like bench/go/mixedload.
//
// Prints one JSON object: {"ok","errors","errorSamples","elapsedMs","latenciesMs" (sorted
// sample, at most 100000), "cpuSeconds" (this process, user+system)}.
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
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func main() {
	endpoint := flag.String("endpoint", "", "host:port, or several comma-separated (connection i uses endpoint i mod n)")
	kind := flag.String("kind", "put", "put | get")
	clients := flag.Int("clients", 100, "requests in flight")
	conns := flag.Int("conns", 4, "gRPC connections")
	duration := flag.Duration("duration", 5*time.Second, "how long")
	keys := flag.Int("keys", 10000, "keyspace size")
	prefix := flag.String("prefix", "bench/", "key prefix")
	valSize := flag.Int("val-size", 256, "value bytes")
	fill := flag.Bool("fill", false, "put every key once, then exit")
	flag.Parse()
	if *endpoint == "" || (*kind != "put" && *kind != "get") {
		fmt.Fprintln(os.Stderr, "loadgen: need --endpoint and --kind=put|get")
		os.Exit(2)
	}
	var clis []*clientv3.Client
	eps := strings.Split(*endpoint, ",")
	for i := 0; i < *conns; i++ {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{eps[i%len(eps)]}, DialTimeout: 10 * time.Second})
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
			os.Exit(2)
		}
		defer c.Close()
		clis = append(clis, c)
	}
	keyNames := make([]string, *keys)
	for i := range keyNames {
		keyNames[i] = fmt.Sprintf("%s%d", *prefix, i)
	}
	value := strings.Repeat("v", *valSize)

	var mu sync.Mutex
	var lat []float64
	var ok, errs int64
	var samples []string
	var next int64
	var wg sync.WaitGroup
	end := time.Now().Add(*duration)
	t0 := time.Now()
	for g := 0; g < *clients; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			cli := clis[g%len(clis)]
			r := rand.New(rand.NewSource(time.Now().UnixNano() + int64(g)))
			var mine []float64
			var myOk, myErr int64
			var mySamples []string
			for {
				var k string
				if *fill {
					mu.Lock()
					n := next
					next++
					mu.Unlock()
					if n >= int64(*keys) {
						break
					}
					k = keyNames[n]
				} else {
					if !time.Now().Before(end) {
						break
					}
					k = keyNames[r.Intn(*keys)]
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				s := time.Now()
				var err error
				if *kind == "put" {
					_, err = cli.Put(ctx, k, value)
				} else {
					_, err = cli.Get(ctx, k)
				}
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
			mu.Lock()
			lat = append(lat, mine...)
			ok += myOk
			errs += myErr
			if len(samples) < 5 {
				samples = append(samples, mySamples...)
			}
			mu.Unlock()
		}(g)
	}
	wg.Wait()
	elapsed := time.Since(t0)
	sort.Float64s(lat)
	if len(lat) > 100000 { // keep an evenly spaced sample so the JSON stays small
		step := float64(len(lat)) / 100000
		s := make([]float64, 100000)
		for i := range s {
			s[i] = lat[int(float64(i)*step)]
		}
		lat = s
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	if samples == nil {
		samples = []string{}
	}
	out, _ := json.Marshal(map[string]interface{}{"ok": ok, "errors": errs, "errorSamples": samples,
		"elapsedMs": float64(elapsed.Microseconds()) / 1000, "latenciesMs": lat, "cpuSeconds": cpu})
	fmt.Println(string(out))
}
