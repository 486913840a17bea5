// Command openivs is a self-hosted, API-compatible implementation of Amazon Interactive Video Service.
//
//	openivs serve [flags]   run the server (every flag also reads an OPENIVS_ environment variable)
//	openivs version         print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/openivs/openivs/internal/config"
	"github.com/openivs/openivs/internal/realtime/token"
	"github.com/openivs/openivs/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `OpenIVS — a self-hosted, API-compatible Amazon Interactive Video Service.

Usage:
  openivs serve [flags]   run the server (API and playback on --http-addr)
  openivs keys [list|rotate|retire KEY-ID] [--data-dir DIR]
                          the server's participant-token signing keys (restart the server after a change)
  openivs version         print the version
  openivs help            show this help; "openivs serve --help" lists the flags

Every flag of serve can also be set with an environment variable: --http-addr is OPENIVS_HTTP_ADDR.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version":
		fmt.Fprintln(stdout, "openivs", versionString())
		return 0
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "keys":
		return keys(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "openivs: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func serve(args []string, stdout, stderr io.Writer) int {
	var cfg config.Config
	fs := flag.NewFlagSet("openivs serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stdout, "Usage: openivs serve [flags]\n\nFlags:")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "openivs serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "openivs serve: invalid configuration:\n%v\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("starting openivs", "version", versionString())
	if err := server.Run(ctx, cfg, log, nil); err != nil {
		log.Error("openivs stopped with an error", "err", err)
		return 1
	}
	return 0
}

// keys manages the ES384 keys the server signs participant tokens with: rotate makes a new current key (tokens
// signed with older keys keep verifying until their key is retired).
func keys(args []string, stdout, stderr io.Writer) int {
	var cfg config.Config
	fs := flag.NewFlagSet("openivs keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Register(fs)
	action := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	var keyID string
	if action == "retire" {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			fmt.Fprintln(stderr, "openivs keys retire: name the key id to retire")
			return 2
		}
		keyID, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	iss, err := token.OpenIssuer(filepath.Join(cfg.DataDir, "keys", "participant-tokens"))
	if err != nil {
		fmt.Fprintln(stderr, "openivs keys:", err)
		return 1
	}
	switch action {
	case "list":
	case "rotate":
		id, err := iss.Rotate()
		if err != nil {
			fmt.Fprintln(stderr, "openivs keys rotate:", err)
			return 1
		}
		fmt.Fprintln(stdout, "new current key:", id)
	case "retire":
		if err := iss.Retire(keyID); err != nil {
			fmt.Fprintln(stderr, "openivs keys retire:", err)
			return 1
		}
		fmt.Fprintln(stdout, "retired:", keyID)
	default:
		fmt.Fprintf(stderr, "openivs keys: unknown action %q (list, rotate, retire)\n", action)
		return 2
	}
	for _, id := range iss.KeyIDs() {
		mark := " "
		if id == iss.CurrentKeyID() {
			mark = "*"
		}
		fmt.Fprintln(stdout, mark, id)
	}
	return 0
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		if v == "(devel)" {
			v = "dev"
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v
		}
	}
	return "dev"
}
