// Command apiload is a closed-loop load generator for IVS-compatible HTTP
// APIs (openivs, moto_server, or the bench/barehandler ceiling).
//
// Every request is built and SigV4-signed (service "ivs") per call with the
// AWS SDK for Go v2 signer, payload hash included, exactly as a real SDK
// client would pay for it. Latency is measured from the start of signing to
// the last byte of the response body, per request, and reported as exact
// percentiles over the full sample.
//
//	apiload -endpoint http://127.0.0.1:8080 -op GetChannel -preload 10000 -c 32 -d 20s
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Operations. "mix" draws from these with the weights in pickMix.
const (
	opGet = iota
	opList
	opCreate
	numOps
)

var opNames = [numOps]string{"GetChannel", "ListChannels", "CreateChannel"}

// pickMix: 80% GetChannel, 15% ListChannels, 5% CreateChannel.
func pickMix(r *rand.Rand) int {
	switch x := r.IntN(100); {
	case x < 80:
		return opGet
	case x < 95:
		return opList
	default:
		return opCreate
	}
}

type client struct {
	endpoint string
	region   string
	creds    aws.Credentials
	signer   *v4.Signer
	http     *http.Client
	nameSeq  atomic.Int64
}

// call signs and sends one request and reads the whole response into buf.
// It returns the HTTP status (0 on transport error) and an error class for
// anything that is not a 2xx with a valid JSON body.
func (c *client) call(ctx context.Context, op string, body []byte, buf *bytes.Buffer) (int, string, error) {
	sum := sha256.Sum256(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/"+op, bytes.NewReader(body))
	if err != nil {
		return 0, "build request", err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := c.signer.SignHTTP(ctx, c.creds, req, hex.EncodeToString(sum[:]), "ivs", c.region, time.Now()); err != nil {
		return 0, "sign", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, classify(err), err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return resp.StatusCode, classify(err), err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		class := "HTTP " + strconv.Itoa(resp.StatusCode)
		if t := resp.Header.Get("X-Amzn-Errortype"); t != "" {
			class += " " + strings.SplitN(t, ":", 2)[0]
		}
		return resp.StatusCode, class, errors.New(truncate(buf.String(), 300))
	}
	if !json.Valid(buf.Bytes()) {
		return resp.StatusCode, "invalid JSON in 2xx body", errors.New(truncate(buf.String(), 300))
	}
	return resp.StatusCode, "", nil
}

// classify maps transport errors to a short, stable class name.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "transport: connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "transport: connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "transport: EOF"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "transport: timeout"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return "transport: " + truncate(err.Error(), 80)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (c *client) body(op int, arns []string, r *rand.Rand) []byte {
	switch op {
	case opGet:
		b, _ := json.Marshal(map[string]string{"arn": arns[r.IntN(len(arns))]})
		return b
	case opList:
		return []byte(`{"maxResults":100}`)
	default:
		return []byte(`{"name":"bench-` + strconv.FormatInt(c.nameSeq.Add(1), 10) + `"}`)
	}
}

// errorLog counts errors by class and keeps one example of each.
type errorLog struct {
	mu      sync.Mutex
	count   map[string]int
	example map[string]string
}

func (e *errorLog) add(class string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.count[class] == 0 {
		e.example[class] = err.Error()
	}
	e.count[class]++
}

func (e *errorLog) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, v := range e.count {
		n += v
	}
	return n
}

// preload creates n channels with conc workers and returns their ARNs.
func preload(c *client, n, conc int) ([]string, error) {
	var (
		mu    sync.Mutex
		arns  = make([]string, 0, n)
		next  atomic.Int64
		first error
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for !stop.Load() && next.Add(1) <= int64(n) {
				_, class, err := c.call(context.Background(), "CreateChannel", c.body(opCreate, nil, nil), &buf)
				var out struct {
					Channel struct{ Arn string } `json:"channel"`
				}
				if err == nil {
					if json.Unmarshal(buf.Bytes(), &out); out.Channel.Arn == "" {
						class, err = "no channel.arn", errors.New(truncate(buf.String(), 300))
					}
				}
				mu.Lock()
				if err != nil {
					if first == nil {
						first = fmt.Errorf("preload CreateChannel: %s: %v", class, err)
					}
					stop.Store(true)
					mu.Unlock()
					return
				}
				arns = append(arns, out.Channel.Arn)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return arns, first
}

type stats struct {
	N                        int
	P50, P99, P999, Max, Avg time.Duration
}

func summarize(s []time.Duration) stats {
	if len(s) == 0 {
		return stats{}
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1 // nearest-rank
		return s[max(0, min(i, len(s)-1))]
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return stats{len(s), q(0.50), q(0.99), q(0.999), s[len(s)-1], sum / time.Duration(len(s))}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// perReq is CPU microseconds per successful request.
func perReq(sec float64, n int) float64 { return sec * 1e6 / float64(max(n, 1)) }

func main() {
	var (
		endpoint = flag.String("endpoint", "http://127.0.0.1:8080", "target base URL")
		region   = flag.String("region", "us-east-1", "SigV4 region")
		ak       = flag.String("access-key", "test", "access key id")
		sk       = flag.String("secret-key", "test", "secret access key")
		opFlag   = flag.String("op", "GetChannel", "GetChannel|ListChannels|CreateChannel|mix (80/15/5)")
		conc     = flag.Int("c", 32, "concurrent closed-loop workers")
		dur      = flag.Duration("d", 20*time.Second, "measured duration (not counting warmup)")
		total    = flag.Int("n", 0, "stop after this many measured requests (with -d: whichever comes first)")
		warmup   = flag.Duration("warmup", 2*time.Second, "load before measuring, not counted")
		npre     = flag.Int("preload", 0, "create this many channels before measuring (GetChannel/mix pick among them)")
		timeout  = flag.Duration("timeout", 30*time.Second, "per-request timeout")
		label    = flag.String("label", "", "free-form label copied into the result (e.g. target name)")
		jsonOut  = flag.Bool("json", false, "print one JSON result line on stdout (human report goes to stderr)")
		tpid     = flag.Int("target-pid", 0, "Linux: pid of the target server, to report its CPU use during the window")
	)
	flag.Parse()
	dSet := false
	flag.Visit(func(f *flag.Flag) { dSet = dSet || f.Name == "d" })
	if *total > 0 && !dSet {
		*dur = 0 // -n alone: run until n requests
	}

	mix := *opFlag == "mix"
	fixedOp := -1
	for i, n := range opNames {
		if n == *opFlag {
			fixedOp = i
		}
	}
	if fixedOp < 0 && !mix {
		fatalf("unknown -op %q", *opFlag)
	}
	if (fixedOp == opGet || mix) && *npre < 1 {
		fatalf("-op %s needs -preload >= 1 (GetChannel picks among preloaded ARNs)", *opFlag)
	}
	if *conc < 1 || (*dur <= 0 && *total <= 0) {
		fatalf("need -c >= 1 and a positive -d or -n")
	}

	report := os.Stdout
	if *jsonOut {
		report = os.Stderr
	}
	c := &client{
		endpoint: strings.TrimRight(*endpoint, "/"),
		region:   *region,
		creds:    aws.Credentials{AccessKeyID: *ak, SecretAccessKey: *sk, Source: "apiload"},
		signer:   v4.NewSigner(),
		http: &http.Client{
			Timeout: *timeout,
			Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        2 * *conc,
				MaxIdleConnsPerHost: 2 * *conc,
				IdleConnTimeout:     90 * time.Second,
				DisableCompression:  true,
			},
		},
	}

	var arns []string
	if *npre > 0 {
		t0 := time.Now()
		var err error
		if arns, err = preload(c, *npre, *conc); err != nil {
			fatalf("%v", err)
		}
		el := time.Since(t0)
		fmt.Fprintf(report, "preloaded %d channels in %.2fs (%.0f CreateChannel/s at c=%d)\n",
			len(arns), el.Seconds(), float64(len(arns))/el.Seconds(), *conc)
	}

	// Closed loop: each worker sends its next request when the previous one
	// has completed. A request is counted if it completes inside the
	// measurement window [ws, end]; with -n, only the first n completions are.
	var (
		errs   = &errorLog{count: map[string]int{}, example: map[string]string{}}
		ws     = time.Now().Add(*warmup)
		end    = ws.Add(*dur)
		done   atomic.Int64
		lastNs atomic.Int64
		lats   = make([][numOps][]time.Duration, *conc)
		wg     sync.WaitGroup
	)
	if *dur <= 0 {
		end = ws.Add(100 * 365 * 24 * time.Hour)
	}
	var cpu0 cpuSample
	cpuReady := make(chan struct{})
	go func() {
		time.Sleep(time.Until(ws))
		cpu0 = sampleCPU(*tpid)
		close(cpuReady)
	}()
	for w := range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			var buf bytes.Buffer
			for time.Now().Before(end) {
				op := fixedOp
				if mix {
					op = pickMix(r)
				}
				body := c.body(op, arns, r)
				start := time.Now()
				_, class, err := c.call(context.Background(), opNames[op], body, &buf)
				fin := time.Now()
				if err != nil {
					errs.add(class, err) // errors count in warmup too
					if *dur <= 0 && errs.total() >= *total {
						return // -n only: do not spin forever against a broken target
					}
					continue
				}
				if fin.Before(ws) || fin.After(end) {
					continue
				}
				if *total > 0 {
					k := done.Add(1)
					if k > int64(*total) {
						return
					}
					if k == int64(*total) {
						lastNs.Store(fin.UnixNano())
					}
				}
				lats[w][op] = append(lats[w][op], fin.Sub(start))
			}
		}()
	}
	wg.Wait()
	<-cpuReady
	cpu := sampleCPU(*tpid).since(cpu0)
	elapsed := time.Now().Sub(ws) // stopped early (-n only, errors)
	if t := lastNs.Load(); t != 0 {
		elapsed = time.Unix(0, t).Sub(ws) // n-th counted completion
	} else if *dur > 0 && elapsed > *dur {
		elapsed = *dur
	}
	elapsed = max(elapsed, time.Nanosecond)

	// Merge and report.
	var all []time.Duration
	var per [numOps][]time.Duration
	for w := range lats {
		for op := range numOps {
			per[op] = append(per[op], lats[w][op]...)
			all = append(all, lats[w][op]...)
		}
	}
	st := summarize(all)
	rps := float64(st.N) / elapsed.Seconds()
	nerr := errs.total()

	fmt.Fprintf(report, "endpoint:    %s %s\n", c.endpoint, *label)
	fmt.Fprintf(report, "op:          %s   concurrency: %d   preload: %d\n", *opFlag, *conc, *npre)
	fmt.Fprintf(report, "requests:    %d ok (2xx) in %.2fs, warmup %s not counted\n", st.N, elapsed.Seconds(), *warmup)
	fmt.Fprintf(report, "throughput:  %.1f req/s\n", rps)
	fmt.Fprintf(report, "latency:     p50 %.3fms  p99 %.3fms  p99.9 %.3fms  max %.3fms  mean %.3fms\n",
		ms(st.P50), ms(st.P99), ms(st.P999), ms(st.Max), ms(st.Avg))
	if mix {
		for op := range numOps {
			s := summarize(per[op])
			fmt.Fprintf(report, "  %-14s %7d  p50 %.3fms  p99 %.3fms  max %.3fms\n", opNames[op], s.N, ms(s.P50), ms(s.P99), ms(s.Max))
		}
	}
	if cpu.ok && *tpid == 0 {
		fmt.Fprintf(report, "cpu:         apiload %.0f%%  everything else %.0f%%  (of %d CPUs; -target-pid splits out the target)\n",
			cpu.self, cpu.other, runtime.NumCPU())
	} else if cpu.ok {
		fmt.Fprintf(report, "cpu:         target %.0f%%  apiload %.0f%%  other processes %.0f%%  (of %d CPUs, in the window)\n",
			cpu.target, cpu.self, cpu.other, runtime.NumCPU())
		fmt.Fprintf(report, "cpu/request: target %.0fus  apiload %.0fus\n", perReq(cpu.targetSec, st.N), perReq(cpu.selfSec, st.N))
		if cpu.other > 10 {
			fmt.Fprintf(os.Stderr, "!!! other processes used %.0f%% of the machine during the window: numbers are skewed\n", cpu.other)
		}
	}
	if nerr == 0 {
		fmt.Fprintf(report, "errors:      none\n")
	} else {
		fmt.Fprintf(os.Stderr, "\n!!!!! %d REQUESTS FAILED (incl. warmup) -- these numbers are NOT a clean result !!!!!\n", nerr)
		for class, n := range errs.count {
			fmt.Fprintf(os.Stderr, "  %6d  %s   e.g. %s\n", n, class, errs.example[class])
		}
	}

	if *jsonOut {
		res := map[string]any{
			"label": *label, "endpoint": c.endpoint, "op": *opFlag, "concurrency": *conc,
			"preload": *npre, "requests": st.N, "duration_s": elapsed.Seconds(), "rps": rps,
			"p50_ms": ms(st.P50), "p99_ms": ms(st.P99), "p999_ms": ms(st.P999), "max_ms": ms(st.Max),
			"mean_ms": ms(st.Avg), "errors": nerr, "errors_by_class": errs.count,
		}
		if cpu.ok && *tpid > 0 {
			res["target_cpu_pct"], res["client_cpu_pct"], res["other_cpu_pct"] = cpu.target, cpu.self, cpu.other
			res["target_cpu_us_per_req"], res["client_cpu_us_per_req"] = perReq(cpu.targetSec, st.N), perReq(cpu.selfSec, st.N)
		}
		out, _ := json.Marshal(res)
		fmt.Println(string(out))
	}
	if nerr > 0 {
		os.Exit(1)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "apiload: "+format+"\n", a...)
	os.Exit(2)
}

// cpuShare is CPU use over the measurement window, in percent of all CPUs.
// targetSec and selfSec are the CPU seconds used in the window.
type cpuShare struct {
	target, self, other float64
	targetSec, selfSec  float64
	ok                  bool
}
