// Package server wires the parts of OpenIVS together from a config.Config and runs them: the store, the
// providers, the API handler and the HTTP listener. It starts them in order and stops them in reverse order.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openivs/openivs/internal/awsapi"
	"github.com/openivs/openivs/internal/awsapi/sigv4"
	"github.com/openivs/openivs/internal/config"
	"github.com/openivs/openivs/internal/events"
	"github.com/openivs/openivs/internal/httpfront"
	"github.com/openivs/openivs/internal/ingest"
	"github.com/openivs/openivs/internal/ivs"
	"github.com/openivs/openivs/internal/live"
	"github.com/openivs/openivs/internal/playback"
	"github.com/openivs/openivs/internal/playback/geo"
	"github.com/openivs/openivs/internal/realtime"
	"github.com/openivs/openivs/internal/realtime/token"
	"github.com/openivs/openivs/internal/record"
	"github.com/openivs/openivs/internal/spec/ivsapi"
	"github.com/openivs/openivs/internal/spec/realtimeapi"
	"github.com/openivs/openivs/internal/store"
	"github.com/openivs/openivs/internal/store/sqlite"
	"github.com/openivs/openivs/internal/transcode"
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

	limits := live.DefaultLimits
	limits.ConcurrentStreams = cfg.QuotaConcurrentStreams
	reg := live.NewRegistry(limits, nil, log)
	defer reg.Close()
	dest, err := recordingDestination(ctx, cfg)
	if err != nil {
		return err
	}
	api, prov, err := newAPI(ctx, cfg, st, creds, reg, log, dest)
	if err != nil {
		return err
	}
	defer prov.Close()
	sinks, err := events.NewSinks(events.SinkConfig{Log: cfg.Events.Log, Logger: log,
		WebhookURL: cfg.Events.WebhookURL, WebhookSecret: cfg.Events.WebhookSecret,
		EventBridgeBus: cfg.Events.EventBridgeBus, EventBridgeEndpoint: cfg.Events.EventBridgeEndpoint,
		EventBridgeRegion: cfg.Events.EventBridgeRegion, EventBridgeSource: cfg.Events.EventBridgeSource})
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	bus := events.NewBus(st, sinks, log)
	defer func() {
		bctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := bus.Close(bctx); err != nil {
			log.Warn("events: not every event was delivered before shutdown; they are kept for the next start", "err", err)
		}
	}()
	ep := eventPublisher{pub: bus, log: log}
	reg.SetObserver(observers{prov, ep})

	// Ingest: RTMP and RTMPS.
	tlsCfg, err := rtmpsConfig(cfg.RTMPSCert, cfg.RTMPSKey, cfg.DataDir, log)
	if err != nil {
		return err
	}
	rtmpLn, err := net.Listen("tcp", cfg.RTMPAddr)
	if err != nil {
		return fmt.Errorf("rtmp listener: %w", err)
	}
	rtmpsLn, err := net.Listen("tcp", cfg.RTMPSAddr)
	if err != nil {
		rtmpLn.Close()
		return fmt.Errorf("rtmps listener: %w", err)
	}
	// Playback: the HLS packager of every stream and the playbackUrl front.
	country, closeCountry, err := countryResolver(cfg)
	if err != nil {
		rtmpLn.Close()
		rtmpsLn.Close()
		return err
	}
	defer closeCountry()
	ffmpeg := findFFmpeg(cfg.FFmpeg, log)
	rec := record.New(record.Config{Dest: dest, Events: bus, Log: log, FFmpeg: ffmpeg,
		MaxBuffered: int64(cfg.Recording.MaxBufferedMB) << 20})
	play := playback.New(prov, playback.Config{Country: country, Log: log, Recorder: rec,
		Transcode: &transcode.Config{FFmpeg: ffmpeg, VideoEncoder: cfg.TranscodeEncoder, Preset: cfg.TranscodePreset}})
	defer play.Close()
	// After the streams end (the ingest defer below) and before the bus closes: what recordings have left to
	// write is written, and their end events published.
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		rec.Close(rctx)
	}()

	ingestCtx, stopIngest := context.WithCancel(context.Background())
	rtmp := &ingest.RTMP{Resolver: prov, Live: reg, Log: log, AllowInsecure: cfg.AllowInsecureRTMP, OnLimitBreach: ep.limitBreach,
		OnQuotaBreach: ep.quotaBreach(cfg.QuotaConcurrentStreams), Packager: play}
	var ingestWG sync.WaitGroup
	for _, l := range []struct {
		ln     net.Listener
		secure bool
	}{{rtmpLn, false}, {tls.NewListener(rtmpsLn, tlsCfg), true}} {
		ingestWG.Add(1)
		go func() {
			defer ingestWG.Done()
			if err := rtmp.Serve(ingestCtx, l.ln, l.secure); err != nil {
				log.Error("ingest listener stopped", "secure", l.secure, "err", err)
			}
		}()
	}
	srtLn, err := ingest.ListenSRT(cfg.SRTAddr)
	if err != nil {
		stopIngest()
		ingestWG.Wait()
		return err
	}
	srtSrv := &ingest.SRT{Resolver: prov, Live: reg, Log: log, OnLimitBreach: ep.limitBreach,
		OnQuotaBreach: ep.quotaBreach(cfg.QuotaConcurrentStreams), Packager: play}
	ingestWG.Add(1)
	go func() {
		defer ingestWG.Done()
		if err := srtSrv.Serve(ingestCtx, srtLn); err != nil {
			log.Error("srt listener stopped", "err", err)
		}
	}()
	// Stop in order: encoders first, then the streams (whose end events go to the bus), then the bus.
	defer func() { stopIngest(); ingestWG.Wait(); reg.Close() }()
	log.Info("ingest is listening", "rtmp", rtmpLn.Addr().String(), "rtmps", rtmpsLn.Addr().String(),
		"srt", srtLn.Addr().String(), "rtmp_for_every_channel", cfg.AllowInsecureRTMP)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.Handle("/api/video/v1/", play)
	mux.Handle("/v1/playlist/", play)
	mux.Handle("/v1/segment/", play)
	mux.Handle("/", api)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	srv := &http.Server{
		Handler:           playbackFirst(play, mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	// The plain listener: playback's GETs (thousands a second per watched channel) through the lean front, every
	// other request (and the rest of its connection) through srv.
	front := &httpfront.Server{Fast: frontRequest, Handler: play, Direct: play.ServeDirect, Fallback: srv, Log: log}
	if cfg.HTTPSAddr != "" {
		tln, err := net.Listen("tcp", cfg.HTTPSAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("https listener: %w", err)
		}
		tlsSrv := &http.Server{Handler: srv.Handler, ReadHeaderTimeout: srv.ReadHeaderTimeout, ReadTimeout: srv.ReadTimeout,
			IdleTimeout: srv.IdleTimeout, MaxHeaderBytes: srv.MaxHeaderBytes, ErrorLog: srv.ErrorLog, BaseContext: srv.BaseContext,
			TLSConfig: tlsCfg.Clone()} // ServeTLS adds h2 to its protocols: HTTP/2 for players
		go func() {
			if err := tlsSrv.ServeTLS(tln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("https listener stopped", "err", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			tlsSrv.Shutdown(sctx)
		}()
		log.Info("https (HTTP/2) is listening", "https", tln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- front.Serve(ln) }()
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
	if err := front.Shutdown(sctx); errors.Is(err, context.DeadlineExceeded) {
		log.Warn("http connections still busy at the shutdown deadline are closed", "deadline", cfg.ShutdownTimeout)
		front.Close()
	} else if err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("stopped")
	return nil
}

// playbackFirst hands playback requests (thousands a second per watched channel) straight to play, without the
// mux's pattern matching; any other request, and a playback path that is not clean (which the mux would redirect
// to its cleaned form), goes to mux.
func playbackFirst(play, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if playbackRequest(r.Method, r.URL.Path) {
			play.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// playbackRequest tells whether playbackFirst gives a request to play: a clean playback path, any method but
// CONNECT.
func playbackRequest(method, path string) bool {
	return playback.Owns(path) && !strings.Contains(path, "//") && !strings.Contains(path, "/.") && method != http.MethodConnect
}

// frontRequest tells whether httpfront serves a request with play itself, from its request line (the path as sent):
// the requests playbackFirst would give to play, made with GET, HEAD or OPTIONS, on a path with nothing escaped
// (so that it is the r.URL.Path playbackFirst would see).
func frontRequest(method, rawPath string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return !strings.Contains(rawPath, "%") && playbackRequest(method, rawPath)
	}
	return false
}

// countryResolver finds playback viewers' countries as configured: a trusted header, a MaxMind database, both
// (header first), or neither.
func countryResolver(cfg config.Config) (geo.Resolver, func(), error) {
	var chain geo.Chain
	closeDB := func() {}
	if cfg.CountryHeader != "" {
		chain = append(chain, geo.Header{Name: cfg.CountryHeader})
	}
	if cfg.GeoIPDatabase != "" {
		db, err := geo.OpenMaxMind(cfg.GeoIPDatabase, cfg.ClientIPHeader)
		if err != nil {
			return nil, nil, fmt.Errorf("playback geoip database: %w", err)
		}
		chain = append(chain, db)
		closeDB = func() { db.Close() }
	}
	return chain, closeDB, nil
}

// newAPI builds the API handler: the providers over st behind the authentication cfg asks for.
// findFFmpeg resolves --ffmpeg; without one, the server says once what that costs and how to fix it.
func findFFmpeg(name string, log *slog.Logger) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	log.Warn("ffmpeg not found: STANDARD and ADVANCED channels play their source rendition only (no transcoded ladder) "+
		"and recordings get no thumbnails; install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg) or set --ffmpeg", "ffmpeg", name)
	return ""
}

// recordingDestination is the S3 API at --recording-s3-endpoint, or a directory per bucket under the data
// directory.
func recordingDestination(ctx context.Context, cfg config.Config) (record.Destination, error) {
	rc := cfg.Recording
	if rc.S3Endpoint == "" {
		return record.Dir{Root: filepath.Join(cfg.DataDir, "recordings")}, nil
	}
	d, err := record.NewS3(ctx, record.S3Config{Endpoint: rc.S3Endpoint, Region: rc.S3Region, AccessKeyID: rc.S3AccessKeyID,
		SecretAccessKey: rc.S3SecretAccessKey, PathStyle: rc.S3PathStyle})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// newAPI builds the API handler and the ivs provider; buckets (nil in tests) checks recording destinations.
func newAPI(ctx context.Context, cfg config.Config, st store.Store, creds config.Credentials, lv ivs.Live, log *slog.Logger, buckets ivs.BucketChecker) (http.Handler, *ivs.Provider, error) {
	prov, err := ivs.New(ctx, st, ivs.Config{
		PublicURL: cfg.PublicURL, RTMPSAddr: cfg.RTMPSAddr, SRTAddr: cfg.SRTAddr, Buckets: buckets,
		Quotas: ivs.Quotas{Channels: cfg.QuotaChannels, PlaybackKeyPairs: cfg.QuotaPlaybackKeyPairs,
			RecordingConfigurations: cfg.QuotaRecordingConfigurations, PlaybackRestrictionPolicies: cfg.QuotaPlaybackRestrictionPolicies,
			AdConfigurations: cfg.QuotaAdConfigurations},
	}, lv, log)
	if err != nil {
		return nil, nil, err
	}
	issuer, err := token.OpenIssuer(filepath.Join(cfg.DataDir, "keys", "participant-tokens"))
	if err != nil {
		return nil, nil, fmt.Errorf("participant token keys: %w", err)
	}
	rt, err := realtime.New(ctx, st, realtime.Config{PublicURL: cfg.PublicURL, RTMPAddr: cfg.RTMPAddr, RTMPSAddr: cfg.RTMPSAddr}, issuer, log)
	if err != nil {
		return nil, nil, err
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
	h, err := awsapi.NewHandler(auth, log, &awsapi.Service{Name: "ivs", Operations: ivsapi.Operations(prov), Owns: ivs.Owns},
		&awsapi.Service{Name: "ivs-realtime", Operations: realtimeapi.Operations(rt), Owns: realtime.Owns})
	return h, prov, err
}
