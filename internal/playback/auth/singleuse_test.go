package auth

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSingleUse(t *testing.T) {
	var s SingleUse
	now := testNow
	exp := now.Add(10 * time.Minute)
	if err := s.Use("", exp, now); err != nil {
		t.Fatalf("empty uuid: %v", err)
	}
	if err := s.Use("u1", exp, now); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, s.Use("u1", exp, now.Add(time.Second)), ReasonSingleUseReplayed)
	// Another token expiry with the same UUID does not make it usable again.
	wantRefusal(t, s.Use("u1", exp.Add(time.Minute), now.Add(time.Second)), ReasonSingleUseReplayed)
	if err := s.Use("u2", exp, now); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, s.Use("u3", now, now), ReasonExpired)
	if s.Len() != 2 {
		t.Fatalf("Len %d, want 2", s.Len())
	}
	// Still remembered one second before expiry; forgotten once it has passed (the token is then refused as
	// expired by VerifyViewerToken anyway).
	wantRefusal(t, s.Use("u1", exp, exp.Add(-time.Second)), ReasonSingleUseReplayed)
	s.Prune(exp)
	if s.Len() != 0 {
		t.Fatalf("after expiry Len %d, want 0", s.Len())
	}
}

func TestSingleUsePrunesInExpiryOrder(t *testing.T) {
	var s SingleUse
	now := testNow
	// Inserted out of order: 5, 1, 3, 2, 4 minutes.
	for _, m := range []int{5, 1, 3, 2, 4} {
		if err := s.Use(fmt.Sprint("u", m), now.Add(time.Duration(m)*time.Minute), now); err != nil {
			t.Fatal(err)
		}
	}
	for m := 1; m <= 5; m++ {
		s.Prune(now.Add(time.Duration(m) * time.Minute))
		if s.Len() != 5-m {
			t.Fatalf("after %d min Len %d, want %d", m, s.Len(), 5-m)
		}
		// What is still remembered is still refused; what expired may be used again (with a new expiry).
		if m < 5 {
			wantRefusal(t, s.Use(fmt.Sprint("u", m+1), now.Add(time.Hour), now.Add(time.Duration(m)*time.Minute)), ReasonSingleUseReplayed)
		}
	}
}

func TestSingleUseBounded(t *testing.T) {
	s := SingleUse{Max: 3}
	now := testNow
	for i := range 3 {
		if err := s.Use(fmt.Sprint("u", i), now.Add(time.Duration(i+1)*time.Minute), now); err != nil {
			t.Fatal(err)
		}
	}
	wantRefusal(t, s.Use("u3", now.Add(time.Minute), now), ReasonUnavailable)
	// The earliest expiry passes: room again, and the old ones are still refused.
	if err := s.Use("u3", now.Add(5*time.Minute), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, s.Use("u1", now.Add(5*time.Minute), now.Add(time.Minute)), ReasonSingleUseReplayed)
	if s.Len() != 3 {
		t.Fatalf("Len %d", s.Len())
	}
}

// Many goroutines use the same UUIDs at once: each UUID is accepted exactly once.
func TestSingleUseConcurrent(t *testing.T) {
	var s SingleUse
	const uuids, workers = 200, 16
	var accepted [uuids]atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range uuids {
				n := (i + w*7) % uuids
				now := testNow.Add(time.Duration(i) * time.Millisecond)
				if err := s.Use(fmt.Sprint("uuid-", n), testNow.Add(time.Hour), now); err == nil {
					accepted[n].Add(1)
				} else if r, _ := AsRefusal(err); r.Reason != ReasonSingleUseReplayed {
					t.Errorf("unexpected refusal %v", err)
				}
				s.Len()
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range accepted {
		if n := accepted[i].Load(); n != 1 {
			t.Fatalf("uuid-%d accepted %d times", i, n)
		}
	}
}
