// Package config holds the server's configuration: one struct, defaults that run everything on one machine with no
// flags, every setting a flag with an OPENIVS_ environment variable, and validation with clear messages.
package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openivs/openivs/internal/awsapi/sigv4"
)

// Auth modes.
const (
	AuthOpen  = "open"  // any credentials; the account comes from the credentials file when the key is listed
	AuthSigV4 = "sigv4" // signatures verified against the credentials file
)

// Config is the whole configuration of `openivs serve`.
type Config struct {
	DataDir         string
	HTTPAddr        string
	HTTPSAddr       string // optional TLS listener (HTTP/2) for the API and playback, with the RTMPS certificate
	PublicURL       string
	RTMPAddr        string
	RTMPSAddr       string
	SRTAddr         string
	Region          string
	AccountID       string
	Auth            string
	CredentialsFile string
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	SQLiteSync      string

	RTMPSCert, RTMPSKey string
	AllowInsecureRTMP   bool
	Events              EventsConfig
	Recording           RecordingConfig
	FFmpeg              string // the ffmpeg of thumbnails and transcoding ("" after Validate: none found)
	TranscodeEncoder    string // libx264, or a hardware encoder (h264_nvenc, h264_qsv, h264_vaapi)
	TranscodePreset     string // the x264 preset of the ladders

	// Playback viewers' country, for playback restriction policies' allowedCountries.
	CountryHeader  string // a trusted header the edge in front sets (CloudFront-Viewer-Country, CF-IPCountry)
	GeoIPDatabase  string // a MaxMind-format country database file
	ClientIPHeader string // a trusted header carrying the client address for the database look-up (X-Forwarded-For)

	QuotaChannels                    int
	QuotaPlaybackKeyPairs            int
	QuotaRecordingConfigurations     int
	QuotaPlaybackRestrictionPolicies int
	QuotaAdConfigurations            int
	QuotaConcurrentStreams           int
}

// Flag describes one setting for --help and the README's reference.
type Flag struct {
	Name, Env, Default, Usage string
}

// Register defines the flags of c on fs, each defaulting to its OPENIVS_ environment variable when set.
func (c *Config) Register(fs *flag.FlagSet) {
	str := func(p *string, name, def, usage string) {
		fs.StringVar(p, name, envOr(name, def), usage+" (env "+EnvName(name)+")")
	}
	num := func(p *int, name string, def int, usage string) {
		d := def
		if v, ok := os.LookupEnv(EnvName(name)); ok {
			if n, err := strconv.Atoi(v); err == nil {
				d = n
			}
		}
		fs.IntVar(p, name, d, usage+" (env "+EnvName(name)+")")
	}
	str(&c.DataDir, "data-dir", "openivs-data", "directory for the database, keys and recordings")
	str(&c.HTTPAddr, "http-addr", "127.0.0.1:8080", "address of the HTTP listener (API, playback, /healthz)")
	str(&c.HTTPSAddr, "https-addr", "", "address of an HTTPS listener (HTTP/2; API and playback) with the RTMPS certificate; off when empty")
	str(&c.PublicURL, "public-url", "", "base URL every handed-out URL is built from (default http://<http-addr>)")
	str(&c.RTMPAddr, "rtmp-addr", "127.0.0.1:1935", "address of the RTMP ingest listener")
	str(&c.RTMPSAddr, "rtmps-addr", "127.0.0.1:4443", "address of the RTMPS ingest listener")
	str(&c.SRTAddr, "srt-addr", "127.0.0.1:9000", "address of the SRT ingest listener")
	str(&c.Region, "region", "us-east-1", "default region (requests signed for another region act in that region)")
	str(&c.AccountID, "account-id", "123456789012", "account of requests whose access key is not in the credentials file (open mode)")
	str(&c.Auth, "auth", AuthOpen, "authentication mode: open (any credentials) or sigv4 (verified signatures)")
	str(&c.CredentialsFile, "credentials-file", "", "JSON file of access keys: {\"credentials\":[{\"accessKeyId\",\"secretAccessKey\",\"accountId\"}]}")
	str(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	str(&c.LogFormat, "log-format", "text", "log format: text or json")
	str(&c.SQLiteSync, "sqlite-synchronous", "normal", "SQLite synchronous mode: normal (survives a process crash) or full (also a power loss)")
	str(&c.RTMPSCert, "rtmps-cert", "", "PEM certificate of the RTMPS listener (default: a self-signed one kept in the data directory)")
	str(&c.RTMPSKey, "rtmps-key", "", "PEM private key of --rtmps-cert")
	fs.BoolVar(&c.AllowInsecureRTMP, "rtmp-allow-insecure", envBool("rtmp-allow-insecure"),
		"accept plain RTMP for every channel, not only those with insecureIngest (local development; env "+EnvName("rtmp-allow-insecure")+")")
	str(&c.CountryHeader, "playback-country-header", "", "trust this request header for the viewer's country (e.g. CloudFront-Viewer-Country), for playback restriction policies")
	str(&c.GeoIPDatabase, "playback-geoip-db", "", "MaxMind-format database (GeoLite2-Country.mmdb) to find the viewer's country from its address")
	str(&c.ClientIPHeader, "playback-client-ip-header", "", "trust this header (e.g. X-Forwarded-For) for the viewer's address in GeoIP look-ups")
	str(&c.Recording.S3Endpoint, "recording-s3-endpoint", "", "write recordings with the S3 API at this URL (AWS: https://s3.<region>.amazonaws.com); without it, to <data-dir>/recordings/<bucket>/")
	str(&c.Recording.S3Region, "recording-s3-region", "", "region of the S3 requests (default: from the AWS environment, else us-east-1)")
	str(&c.Recording.S3AccessKeyID, "recording-s3-access-key-id", "", "access key of the S3 requests (default: the AWS SDK's credential chain)")
	str(&c.Recording.S3SecretAccessKey, "recording-s3-secret-access-key", "", "secret key of --recording-s3-access-key-id")
	fs.BoolVar(&c.Recording.S3PathStyle, "recording-s3-path-style", envBoolOr("recording-s3-path-style", true),
		"address buckets in the path (most S3-compatible servers), not the host name (env "+EnvName("recording-s3-path-style")+")")
	num(&c.Recording.MaxBufferedMB, "recording-max-buffered-mb", 64, "media a recording may hold unwritten (S3 slow or down) before it fails, in MiB")
	str(&c.FFmpeg, "ffmpeg", "ffmpeg", "the ffmpeg that transcodes STANDARD and ADVANCED channels and cuts recording thumbnails (without it: source only, no thumbnails)")
	str(&c.TranscodeEncoder, "transcode-encoder", "libx264", "video encoder of the ladders: libx264, or a hardware one (h264_nvenc, h264_qsv, h264_vaapi)")
	str(&c.TranscodePreset, "transcode-preset", "superfast", "x264 preset of the ladders (ultrafast ... medium: more CPU, better pictures)")
	fs.BoolVar(&c.Events.Log, "events-log", envBool("events-log"), "log every IVS event (env "+EnvName("events-log")+")")
	str(&c.Events.WebhookURL, "events-webhook-url", "", "POST every IVS event as JSON to this URL")
	str(&c.Events.WebhookSecret, "events-webhook-secret", "", "sign webhook bodies: X-OpenIVS-Signature: sha256=<HMAC-SHA256 hex>")
	str(&c.Events.EventBridgeBus, "events-eventbridge-bus", "", "send every IVS event to this EventBridge bus with PutEvents")
	str(&c.Events.EventBridgeEndpoint, "events-eventbridge-endpoint", "", "EventBridge endpoint URL (default: AWS's for the region)")
	str(&c.Events.EventBridgeRegion, "events-eventbridge-region", "", "EventBridge region (default: from the AWS environment)")
	str(&c.Events.EventBridgeSource, "events-eventbridge-source", "aws.ivs", "Source of the EventBridge entries (AWS refuses aws.* from PutEvents: use another against AWS)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDuration("shutdown-timeout", 10*time.Second),
		"how long to wait for requests in flight at shutdown (env "+EnvName("shutdown-timeout")+")")
	num(&c.QuotaChannels, "quota-channels", 5000, "channels per account and region")
	num(&c.QuotaPlaybackKeyPairs, "quota-playback-key-pairs", 3, "playback key pairs per account and region")
	num(&c.QuotaRecordingConfigurations, "quota-recording-configurations", 20, "recording configurations per account and region")
	num(&c.QuotaPlaybackRestrictionPolicies, "quota-playback-restriction-policies", 20, "playback restriction policies per account and region")
	num(&c.QuotaAdConfigurations, "quota-ad-configurations", 100, "ad configurations per account and region")
	num(&c.QuotaConcurrentStreams, "quota-concurrent-streams", 100, "live streams at once per account and region (0: no limit)")
}

// EnvName is the environment variable of a flag: OPENIVS_ and the name in upper snake case.
func EnvName(flagName string) string {
	return "OPENIVS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(EnvName(name)); ok {
		return v
	}
	return def
}

func envBoolOr(name string, def bool) bool {
	if v, err := strconv.ParseBool(os.Getenv(EnvName(name))); err == nil {
		return v
	}
	return def
}

func envBool(name string) bool {
	v, _ := strconv.ParseBool(os.Getenv(EnvName(name)))
	return v
}

// RecordingConfig says where recordings go: the S3 API at Endpoint, or, without one, a directory per bucket under
// the data directory.
type RecordingConfig struct {
	S3Endpoint, S3Region, S3AccessKeyID, S3SecretAccessKey string
	S3PathStyle                                            bool
	MaxBufferedMB                                          int
}

// EventsConfig selects where IVS events go.
type EventsConfig struct {
	Log                                                                       bool
	WebhookURL, WebhookSecret                                                 string
	EventBridgeBus, EventBridgeEndpoint, EventBridgeRegion, EventBridgeSource string
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(EnvName(name)); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	accountRE = regexp.MustCompile(`^\d{12}$`)
)

// Validate checks the configuration and fills in derived defaults (the public URL).
func (c *Config) Validate() error {
	var errs []error
	for _, a := range []struct{ name, v string }{{"http-addr", c.HTTPAddr}, {"rtmp-addr", c.RTMPAddr}, {"rtmps-addr", c.RTMPSAddr}, {"srt-addr", c.SRTAddr}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			errs = append(errs, fmt.Errorf("--%s %q is not host:port", a.name, a.v))
		}
	}
	if c.PublicURL == "" {
		host, port, err := net.SplitHostPort(c.HTTPAddr)
		if err == nil {
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			c.PublicURL = "http://" + net.JoinHostPort(host, port)
		}
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--public-url %q must be an absolute http(s) URL", c.PublicURL))
	}
	if !regionRE.MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("--region %q is not a region name like us-east-1", c.Region))
	}
	if !accountRE.MatchString(c.AccountID) {
		errs = append(errs, fmt.Errorf("--account-id %q must be 12 digits", c.AccountID))
	}
	switch c.Auth {
	case AuthOpen:
	case AuthSigV4:
		if c.CredentialsFile == "" {
			errs = append(errs, errors.New("--auth sigv4 needs --credentials-file"))
		}
	default:
		errs = append(errs, fmt.Errorf("--auth %q must be open or sigv4", c.Auth))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q must be text or json", c.LogFormat))
	}
	if c.SQLiteSync != "normal" && c.SQLiteSync != "full" {
		errs = append(errs, fmt.Errorf("--sqlite-synchronous %q must be normal or full", c.SQLiteSync))
	}
	for _, q := range []struct {
		name string
		v    int
	}{{"quota-channels", c.QuotaChannels}, {"quota-playback-key-pairs", c.QuotaPlaybackKeyPairs},
		{"quota-recording-configurations", c.QuotaRecordingConfigurations},
		{"quota-playback-restriction-policies", c.QuotaPlaybackRestrictionPolicies}, {"quota-ad-configurations", c.QuotaAdConfigurations},
		{"quota-concurrent-streams", c.QuotaConcurrentStreams}} {
		if q.v < 0 {
			errs = append(errs, fmt.Errorf("--%s must not be negative", q.name))
		}
	}
	if (c.RTMPSCert == "") != (c.RTMPSKey == "") {
		errs = append(errs, errors.New("--rtmps-cert and --rtmps-key go together"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	return errors.Join(errs...)
}

// CredentialsFile is the JSON format of --credentials-file.
type CredentialsFile struct {
	Credentials []struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
		AccountID       string `json:"accountId"`
	} `json:"credentials"`
}

// Credentials is an in-memory table of access keys; it implements sigv4.Credentials.
type Credentials map[string]sigv4.Credential

// Lookup implements sigv4.Credentials.
func (c Credentials) Lookup(accessKeyID string) (sigv4.Credential, bool) {
	cr, ok := c[accessKeyID]
	return cr, ok
}

// LoadCredentials reads a credentials file; an empty path gives an empty table.
func LoadCredentials(path string) (Credentials, error) {
	creds := Credentials{}
	if path == "" {
		return creds, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	var f CredentialsFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", path, err)
	}
	for i, c := range f.Credentials {
		switch {
		case c.AccessKeyID == "" || c.SecretAccessKey == "":
			return nil, fmt.Errorf("credentials file %s: entry %d needs accessKeyId and secretAccessKey", path, i+1)
		case !accountRE.MatchString(c.AccountID):
			return nil, fmt.Errorf("credentials file %s: entry %d (%s): accountId must be 12 digits", path, i+1, c.AccessKeyID)
		}
		if _, dup := creds[c.AccessKeyID]; dup {
			return nil, fmt.Errorf("credentials file %s: access key %s is listed twice", path, c.AccessKeyID)
		}
		creds[c.AccessKeyID] = sigv4.Credential{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, AccountID: c.AccountID}
	}
	return creds, nil
}
