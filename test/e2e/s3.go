package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 is a real S3 server for tests: versitygw (installed into .bin by scripts/test.sh) serving a temporary
// directory on loopback.
type S3 struct {
	t        testing.TB
	Addr     string
	Endpoint string
	Dir      string
	Client   *s3.Client
	cmd      *exec.Cmd
	log      *syncBuffer
	done     chan struct{}
}

// Credentials of the test S3 server's root account.
const (
	s3AccessKey = "test"
	s3SecretKey = "testsecret123"
)

// StartS3 starts versitygw on a free port; it is stopped when the test ends.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	s := &S3{t: t, Addr: freeAddr(t), Dir: t.TempDir()}
	s.Endpoint = "http://" + s.Addr
	s.Client = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s3AccessKey, s3SecretKey, "")})
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start (re)starts the server on its address and directory.
func (s *S3) Start() {
	t := s.t
	t.Helper()
	bin := filepath.Join(RepoRoot(), ".bin", "versitygw")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("versitygw is required (scripts/test.sh installs it into .bin): %v", err)
	}
	s.log = &syncBuffer{}
	s.cmd = exec.Command(bin, "--port", s.Addr, "posix", s.Dir)
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s3AccessKey, "ROOT_SECRET_KEY="+s3SecretKey)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case <-s.done:
			t.Fatalf("versitygw exited at start:\n%s", s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw not listening after 20 s:\n%s", s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server (an S3 outage, when the test goes on).
func (s *S3) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
	default:
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Args are openivs's flags to record to this server.
func (s *S3) Args() []string {
	return []string{"--recording-s3-endpoint", s.Endpoint, "--recording-s3-region", "us-east-1",
		"--recording-s3-access-key-id", s3AccessKey, "--recording-s3-secret-access-key", s3SecretKey}
}

// CreateBucket creates a bucket.
func (s *S3) CreateBucket(name string) {
	s.t.Helper()
	if _, err := s.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		s.t.Fatalf("CreateBucket %s: %v", name, err)
	}
}

// Keys lists the keys under a prefix, sorted.
func (s *S3) Keys(bucket, prefix string) []string {
	s.t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			s.t.Fatalf("ListObjectsV2 %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	sort.Strings(keys)
	return keys
}

// Get reads an object.
func (s *S3) Get(bucket, key string) []byte {
	s.t.Helper()
	out, err := s.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		s.t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		s.t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	return b
}

// ServeBucket serves a bucket's objects over plain HTTP with CORS (GET, with Range), as a bucket website or a CDN
// in front of it would, so that players and ffprobe can read a recording.
func (s *S3) ServeBucket(t testing.TB, bucket string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Headers", "Range")
		if r.Method == http.MethodOptions {
			return
		}
		in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(strings.TrimPrefix(r.URL.Path, "/"))}
		if rg := r.Header.Get("Range"); rg != "" {
			in.Range = aws.String(rg)
		}
		out, err := s.Client.GetObject(r.Context(), in)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		defer out.Body.Close()
		if out.ContentType != nil {
			w.Header().Set("Content-Type", *out.ContentType)
		}
		w.Header().Set("Accept-Ranges", "bytes")
		if out.ContentLength != nil {
			w.Header().Set("Content-Length", strconv.FormatInt(*out.ContentLength, 10))
		}
		status := http.StatusOK
		if out.ContentRange != nil {
			w.Header().Set("Content-Range", *out.ContentRange)
			status = http.StatusPartialContent
		}
		w.WriteHeader(status)
		io.Copy(w, out.Body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
