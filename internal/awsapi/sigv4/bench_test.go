package sigv4

import (
	"testing"
	"time"
)

// BenchmarkVerify measures the hot path: a known key whose signing key is
// already cached.
func BenchmarkVerify(b *testing.B) {
	reqs := sdkRequests()
	now := testTime.Add(time.Minute)
	run := func(b *testing.B, name string, s sdkRequest, presign bool) {
		b.Run(name, func(b *testing.B) {
			r, body := signSDK(b, s, false, "ivs", testTime)
			if presign {
				r, body = presignSDK(b, s, false, 5*time.Minute, hashHex([]byte(s.body)), testTime)
			}
			v := newVerifier(testCreds(), now)
			if _, _, err := v.Verify(r, body); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := v.Verify(r, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run(b, "header/POST_CreateChannel", reqs[0], false)
	run(b, "header/GET_tags_query", reqs[1], false)
	run(b, "presigned/GET_tags_query", reqs[1], true)

	b.Run("header/POST_CreateChannel_parallel", func(b *testing.B) {
		r, body := signSDK(b, reqs[0], false, "ivs", testTime)
		v := newVerifier(testCreds(), now)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := v.Verify(r, body); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})

	b.Run("rejected/bad_signature", func(b *testing.B) {
		r, body := signSDK(b, reqs[0], false, "ivs", testTime)
		v := newVerifier(staticCreds{testAKID: {AccessKeyID: testAKID, SecretAccessKey: "other"}}, now)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, _, err := v.Verify(r, body); err == nil {
				b.Fatal("verified")
			}
		}
	})
}

func BenchmarkParseScope(b *testing.B) {
	r, _ := signSDK(b, sdkRequests()[0], false, "ivs", testTime)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := ParseScope(r); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
