//go:build !linux

package main

import (
	"context"
	"errors"

	"github.com/openivs/openivs/internal/hls"
)

func serveEpoll(context.Context, *hls.Muxer, string, int) error {
	return errors.New("the epoll front runs on Linux only")
}
