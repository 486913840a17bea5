// Package server wires the parts of OpenIVS together from a config.Config and runs them: the store, the
// providers, the API handler and the HTTP listener. It starts them in order and stops them in reverse order.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/openivs/openivs/internal/awsapi"
	"github.com/openivs/openivs/internal/awsapi/sigv4"
	"github.com/openivs/openivs/internal/config"
	"github.com/openivs/openivs/internal/ivs"
	"github.com/openivs/openivs/internal/realtime"
	"github.com/openivs/openivs/internal/realtime/token"
	"github.com/openivs/openivs/internal/spec/ivsapi"
	"github.com/openivs/openivs/internal/spec/realtimeapi"
	"github.com/openivs/openivs/internal/store"
	"github.com/openivs/openivs/internal/store/sqlite"
)

// cacheEntries bounds the store's read cache: the server is the only writer of its database, so single-resource
// reads (GetChannel, and the channel look-ups of the stream operations) are served from memory. About 1 KB each.
const cacheEntries = 50000

// Run serves until ctx is cancelled, then shuts down cleanly. ready, when not nil, is called once the listener
// accepts connections.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, ready func(httpAddr string)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	creds, err := config.LoadCredentials(cfg.CredentialsFile)
	if err != nil {
		return err
	}
	dbPath := filepath.Join(cfg.DataDir, "openivs.db")
	st, err := sqlite.OpenWithOptions(ctx, dbPath, sqlite.Options{Synchronous: cfg.SQLiteSync, CacheEntries: cacheEntries}, log)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()

	api, err := newAPI(ctx, cfg, st, creds, log)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.Handle("/", api)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("openivs is serving", "http", ln.Addr().String(), "public_url", cfg.PublicURL,
		"region", cfg.Region, "data_dir", cfg.DataDir)
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("stopped")
	return nil
}

// newAPI builds the API handler: the providers over st behind the authentication cfg asks for.
func newAPI(ctx context.Context, cfg config.Config, st store.Store, creds config.Credentials, log *slog.Logger) (http.Handler, error) {
	prov, err := ivs.New(ctx, st, ivs.Config{
		PublicURL: cfg.PublicURL, RTMPSAddr: cfg.RTMPSAddr, SRTAddr: cfg.SRTAddr,
		Quotas: ivs.Quotas{Channels: cfg.QuotaChannels, PlaybackKeyPairs: cfg.QuotaPlaybackKeyPairs,
			RecordingConfigurations: cfg.QuotaRecordingConfigurations, PlaybackRestrictionPolicies: cfg.QuotaPlaybackRestrictionPolicies,
			AdConfigurations: cfg.QuotaAdConfigurations},
	}, ivs.Offline{}, log)
	if err != nil {
		return nil, err
	}
	keyDir := filepath.Join(cfg.DataDir, "keys", "participant-tokens")
	if cfg.DataDir == "" { // in-process tests that set no data directory: throw-away keys, never in the working directory
		if keyDir, err = os.MkdirTemp("", "openivs-participant-tokens-"); err != nil {
			return nil, fmt.Errorf("participant token keys: %w", err)
		}
	}
	issuer, err := token.OpenIssuer(keyDir)
	if err != nil {
		return nil, fmt.Errorf("participant token keys: %w", err)
	}
	rt, err := realtime.New(ctx, st, realtime.Config{PublicURL: cfg.PublicURL, RTMPAddr: cfg.RTMPAddr, RTMPSAddr: cfg.RTMPSAddr}, issuer, log)
	if err != nil {
		return nil, err
	}
	var auth awsapi.Authenticator
	switch cfg.Auth {
	case config.AuthSigV4:
		auth = &awsapi.SigV4Auth{Verifier: &sigv4.Verifier{Credentials: creds, Services: []string{ivsapi.ModelSigningName}}}
		log.Info("API authentication: sigv4 — every request's signature is verified", "access_keys", len(creds))
	default:
		auth = &awsapi.OpenAuth{Credentials: creds, Account: cfg.AccountID, Region: cfg.Region}
		log.Warn("API authentication: open — any credentials are accepted (use --auth sigv4 to verify signatures)",
			"default_account", cfg.AccountID, "listed_access_keys", len(creds))
	}
	return awsapi.NewHandler(auth, log, &awsapi.Service{Name: "ivs", Operations: ivsapi.Operations(prov), Owns: ivs.Owns},
		&awsapi.Service{Name: "ivs-realtime", Operations: realtimeapi.Operations(rt), Owns: realtime.Owns})
}
