package ivs

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimits holds token buckets by key (a channel ARN, an account), as IVS's per-resource call rates.
type rateLimits struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newRateLimits(perSecond float64, burst int) *rateLimits {
	return &rateLimits{rate: rate.Limit(perSecond), burst: burst, buckets: map[string]*rate.Limiter{}}
}

// allow takes a token from key's bucket.
func (r *rateLimits) allow(key string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.buckets[key]
	if !ok {
		if len(r.buckets) >= 100_000 { // forget full buckets: they allow as a new one would
			for k, b := range r.buckets {
				if b.TokensAt(now) >= float64(r.burst) {
					delete(r.buckets, k)
				}
			}
		}
		l = rate.NewLimiter(r.rate, r.burst)
		r.buckets[key] = l
	}
	return l.AllowN(now, 1)
}
