// Package e2e holds the end-to-end tests: they build the real openivs binary once per test run, start servers on
// free loopback ports with their own data directories, and drive them with real clients (the AWS SDK for Go v2,
// the aws CLI and boto3, later ffmpeg and a browser). A server's log is printed only when its test fails.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds cmd/openivs once per test process and returns its path; RemoveBinary deletes it.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "openivs-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		binPath = filepath.Join(dir, "openivs")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/openivs")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building openivs: %v", buildErr)
	}
	return binPath
}

// RemoveBinary deletes the binary Binary built, if any: call it from TestMain after the tests have run.
func RemoveBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// Credential is an access key the test server knows.
type Credential struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	AccountID       string `json:"accountId"`
}

// Options configure a test server.
type Options struct {
	Auth        string       // "open" (default) or "sigv4"
	Credentials []Credential // written to a credentials file when non-empty
	Args        []string     // extra flags
	DataDir     string       // reuse a data directory (restarts); a fresh one when empty
}

// Server is a running openivs process.
type Server struct {
	t       testing.TB
	opts    Options
	DataDir string
	Addr    string // host:port of the HTTP listener
	URL     string // http://Addr
	RTMP    string // host:port of the RTMP listener
	RTMPS   string // host:port of the RTMPS listener
	SRT     string // host:port of the SRT listener
	cmd     *exec.Cmd
	log     *syncBuffer
	done    chan struct{}
	exitErr error
}

// DefaultCredential is the access key every test server lists (account 111111111111).
var DefaultCredential = Credential{AccessKeyID: "AKIDOPENIVSTEST1", SecretAccessKey: "secret-one", AccountID: "111111111111"}

// SecondCredential belongs to another account (222222222222).
var SecondCredential = Credential{AccessKeyID: "AKIDOPENIVSTEST2", SecretAccessKey: "secret-two", AccountID: "222222222222"}

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Credentials == nil {
		opts.Credentials = []Credential{DefaultCredential, SecondCredential}
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	s := &Server{t: t, opts: opts, DataDir: opts.DataDir}
	s.start()
	t.Cleanup(func() { s.Stop() })
	return s
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (s *Server) start() {
	t := s.t
	t.Helper()
	s.Addr = freeAddr(t)
	s.URL = "http://" + s.Addr
	s.RTMP, s.RTMPS, s.SRT = freeAddr(t), freeAddr(t), freeAddr(t)
	args := []string{"serve", "--data-dir", s.DataDir, "--http-addr", s.Addr,
		"--rtmp-addr", s.RTMP, "--rtmps-addr", s.RTMPS, "--srt-addr", s.SRT, "--log-level", "debug"}
	if s.opts.Auth != "" {
		args = append(args, "--auth", s.opts.Auth)
	}
	if len(s.opts.Credentials) > 0 {
		f := filepath.Join(t.TempDir(), "credentials.json")
		raw, _ := json.Marshal(map[string]any{"credentials": s.opts.Credentials})
		if err := os.WriteFile(f, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--credentials-file", f)
	}
	args = append(args, s.opts.Args...)
	s.log = &syncBuffer{}
	s.cmd = exec.Command(Binary(t), args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.Env = cleanEnv()
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start openivs: %v", err)
	}
	s.done = make(chan struct{})
	go func() { s.exitErr = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("openivs exited during start-up: %v\n%s", s.exitErr, s.log.String())
		default:
		}
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("openivs not healthy after 30s\n%s", s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cleanEnv drops OPENIVS_ variables of the developer's shell so tests see defaults.
func cleanEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "OPENIVS_") {
			env = append(env, e)
		}
	}
	return env
}

// Stop sends SIGTERM and waits for a clean exit (status 0); it fails the test otherwise. It is idempotent.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	defer func() { s.cmd = nil }()
	if s.t.Failed() {
		defer s.t.Logf("openivs log:\n%s", s.log.String())
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.exitErr != nil {
			s.t.Errorf("openivs did not exit cleanly on SIGTERM: %v\n%s", s.exitErr, s.log.String())
		}
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("openivs did not stop within 15s of SIGTERM\n%s", s.log.String())
	}
}

// Kill stops the server with SIGKILL, as a crash would.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts the server again on its data directory (after Stop or Kill), on a new port.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.Stop()
	}
	s.start()
}

// Log returns what the server has logged so far.
func (s *Server) Log() string { return s.log.String() }

// IVS returns an AWS SDK client for the ivs API, signing as cred (DefaultCredential when zero) in region
// (us-west-2 when empty).
func (s *Server) IVS(cred Credential, region string) *ivs.Client {
	if cred.AccessKeyID == "" {
		cred = DefaultCredential
	}
	if region == "" {
		region = "us-west-2"
	}
	return ivs.New(ivs.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// Ctx returns a context that ends with the test or after a minute.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
