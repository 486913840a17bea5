package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openivs/openivs/internal/store"
)

const benchN = 10_000

// measureCPU runs f and reports the process CPU time it used per operation as cpu-ns/op: unlike ns/op (wall
// time), it does not depend on what else the machine is running.
func measureCPU(b *testing.B, f func()) {
	start := cpuTime()
	f()
	if d := cpuTime() - start; d > 0 && b.N > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// benchStore returns a store holding benchN channels of one account and region, and their ARNs.
func benchStore(b *testing.B, opts Options) (*Store, []string) {
	b.Helper()
	s := openTest(b, opts)
	ctx := context.Background()
	arns := make([]string, 0, benchN)
	for i := 0; i < benchN; i += 1000 {
		err := s.Update(ctx, func(tx store.Tx) error {
			for j := i; j < i+1000; j++ {
				r := benchRes(fmt.Sprintf("ch%06d", j))
				if err := tx.Insert(ctx, r); err != nil {
					return err
				}
				arns = append(arns, r.ARN)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s, arns
}

// benchRes is a channel shaped like a real one: a ~400-byte document, two tags, one reference.
func benchRes(id string) *store.Resource {
	r := res(id)
	r.Name = "channel-" + id
	r.Tags = map[string]string{"team": "video", "env": "prod"}
	r.Refs = []string{"arn:aws:ivs:us-west-2:111111111111:recording-configuration/AbCdEfGhIjKl"}
	r.Data = fmt.Appendf(nil, `{"arn":%q,"name":%q,"latencyMode":"LOW","type":"STANDARD","authorized":false,`+
		`"recordingConfigurationArn":"arn:aws:ivs:us-west-2:111111111111:recording-configuration/AbCdEfGhIjKl",`+
		`"ingestEndpoint":"a1b2c3d4e5f6.global-contribute.live-video.net","insecureIngest":false,`+
		`"playbackUrl":"https://a1b2c3d4e5f6.us-west-2.playback.live-video.net/api/video/v1/%s.m3u8",`+
		`"preset":"","playbackRestrictionPolicyArn":"","containerFormat":"TS"}`, r.ARN, r.Name, id)
	return r
}

// BenchmarkGet is View + Get of a random one of benchN resources, from GOMAXPROCS goroutines and from 32 (the
// load test's concurrency); with a cancelable context, as an HTTP request has; and without memory mapping.
func BenchmarkGet(b *testing.B) {
	s, arns := benchStore(b, Options{})
	gomaxprocs := runtime.GOMAXPROCS(0)
	b.Run(fmt.Sprintf("goroutines=%d", gomaxprocs), func(b *testing.B) { benchGet(b, s, arns, gomaxprocs, false) })
	b.Run("goroutines=32", func(b *testing.B) { benchGet(b, s, arns, 32, false) })
	b.Run("goroutines=32/ctx=cancelable", func(b *testing.B) { benchGet(b, s, arns, 32, true) })
	b.Run("goroutines=32/mmap=off", func(b *testing.B) {
		s, arns := benchStore(b, Options{MmapSize: -1})
		benchGet(b, s, arns, 32, false)
	})
}

func benchGet(b *testing.B, s *Store, arns []string, goroutines int, cancelable bool) {
	var ctx context.Context = context.Background()
	if cancelable {
		c, cancel := context.WithCancel(ctx)
		defer cancel()
		ctx = c
	}
	b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	var seed atomic.Uint64
	measureCPU(b, func() {
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(seed.Add(1), 42))
			for pb.Next() {
				arn := arns[rng.IntN(len(arns))]
				err := s.View(ctx, func(tx store.Tx) error {
					r, err := tx.Get(ctx, arn)
					if err == nil && r.ARN != arn {
						err = fmt.Errorf("got %s", r.ARN)
					}
					return err
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkGetWhileWriting is BenchmarkGet from 32 goroutines while another goroutine commits an Update of a
// random resource every 100ms or every 10ms, with and without memory mapping. Each commit empties the page cache
// of every reader connection and unmaps its map (SQLite does so when another connection has written), so reads
// get more expensive as writes get more frequent, and more so with memory mapping.
func BenchmarkGetWhileWriting(b *testing.B) {
	for _, c := range []struct {
		every time.Duration
		mmap  int64
	}{{100 * time.Millisecond, 0}, {100 * time.Millisecond, -1}, {10 * time.Millisecond, 0}, {10 * time.Millisecond, -1}} {
		every := c.every
		name := fmt.Sprintf("every=%v", every)
		if c.mmap < 0 {
			name += "/mmap=off"
		}
		b.Run(name, func(b *testing.B) {
			s, arns := benchStore(b, Options{MmapSize: c.mmap})
			ctx := context.Background()
			stop, stopped := make(chan struct{}), make(chan struct{})
			var writes atomic.Int64
			go func() {
				defer close(stopped)
				rng := rand.New(rand.NewPCG(1, 2))
				tick := time.NewTicker(every)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					err := s.Update(ctx, func(tx store.Tx) error {
						r, err := tx.Get(ctx, arns[rng.IntN(len(arns))])
						if err != nil {
							return err
						}
						r.Tags["n"] = fmt.Sprint(writes.Load())
						return tx.Update(ctx, r)
					})
					if err != nil {
						b.Error(err)
						return
					}
					writes.Add(1)
				}
			}()
			start := time.Now()
			benchGet(b, s, arns, 32, false)
			close(stop)
			<-stopped
			b.ReportMetric(float64(writes.Load())/time.Since(start).Seconds(), "writes/s")
		})
	}
}

// BenchmarkListPage lists one page of 100 of benchN resources of one type: the first page, a page in the middle
// (keyset pagination with AfterSeq), and the first page in parallel.
func BenchmarkListPage(b *testing.B) {
	s, arns := benchStore(b, Options{})
	ctx := context.Background()
	mid, err := getRes(ctx, s, arns[benchN/2])
	if err != nil {
		b.Fatal(err)
	}
	list := func(b *testing.B, after int64) {
		b.Helper()
		err := s.View(ctx, func(tx store.Tx) error {
			rs, err := tx.List(ctx, store.ListQuery{Account: "111111111111", Region: "us-west-2", Type: "channel",
				AfterSeq: after, Limit: 100})
			if err == nil && len(rs) != 100 {
				err = fmt.Errorf("got %d", len(rs))
			}
			return err
		})
		if err != nil {
			b.Error(err) // not Fatal: called from RunParallel's goroutines too
		}
	}
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		measureCPU(b, func() {
			for b.Loop() {
				list(b, 0)
			}
		})
	})
	b.Run("middle", func(b *testing.B) {
		b.ReportAllocs()
		measureCPU(b, func() {
			for b.Loop() {
				list(b, mid.Seq)
			}
		})
	})
	b.Run("first/parallel", func(b *testing.B) {
		b.ReportAllocs()
		measureCPU(b, func() {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					list(b, 0)
				}
			})
		})
	})
}

// BenchmarkInsert is one Update inserting one resource (into a store that grows as it runs), sequentially and
// from 32 goroutines (Updates are serialised: this measures queueing overhead), with synchronous NORMAL and FULL.
func BenchmarkInsert(b *testing.B) {
	for _, sync := range []string{"NORMAL", "FULL"} {
		for _, goroutines := range []int{1, 32} {
			b.Run(fmt.Sprintf("sync=%s/goroutines=%d", sync, goroutines), func(b *testing.B) {
				s := openTest(b, Options{Synchronous: sync})
				ctx := context.Background()
				var n atomic.Int64
				insertOne := func() {
					r := benchRes(fmt.Sprintf("ch%09d", n.Add(1)))
					r.Created = time.Now()
					if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, r) }); err != nil {
						b.Error(err) // not Fatal: called from RunParallel's goroutines too
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				measureCPU(b, func() {
					if goroutines == 1 {
						for b.Loop() {
							insertOne()
						}
						return
					}
					b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							insertOne()
						}
					})
				})
			})
		}
	}
}
