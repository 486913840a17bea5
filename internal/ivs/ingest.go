package ivs

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/openivs/openivs/internal/awsapi"
	"github.com/openivs/openivs/internal/ingest"
	"github.com/openivs/openivs/internal/live"
	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/ivsapi"
	"github.com/openivs/openivs/internal/store"
)

// ErrUnknownStreamKey is returned by ResolveStreamKey for a key that does not authenticate (unknown, deleted,
// or its channel deleted). It says nothing more, on purpose.
var ErrUnknownStreamKey = errors.New("ivs: unknown stream key")

// ResolveStreamKey implements ingest.Resolver: it finds the channel a stream key value publishes to. The value is
// "sk_<region>_<streamKeyId>_<secret>"; the id finds the key, and the whole value must match in constant time.
func (p *Provider) ResolveStreamKey(ctx context.Context, value string) (ingest.Channel, error) {
	parts := strings.Split(value, "_")
	if len(parts) != 4 || parts[0] != "sk" || len(value) > 256 {
		return ingest.Channel{}, ErrUnknownStreamKey
	}
	var ch ingest.Channel
	err := p.st.View(ctx, func(tx store.Tx) error {
		keys, err := tx.FindByID(ctx, TypeStreamKey, parts[2])
		if err != nil {
			return err
		}
		for _, k := range keys {
			var kd streamKeyDoc
			if err := resource.Decode(k, &kd); err != nil {
				return err
			}
			if subtle.ConstantTimeCompare([]byte(kd.Value), []byte(value)) != 1 {
				continue
			}
			c, err := tx.Get(ctx, k.Parent)
			if errors.Is(err, store.ErrNotFound) {
				return ErrUnknownStreamKey
			} else if err != nil {
				return err
			}
			var d channelDoc
			if err := resource.Decode(c, &d); err != nil {
				return err
			}
			ch = ingest.Channel{
				Channel: live.Channel{ARN: c.ARN, Account: c.Account, Region: c.Region, ID: c.ID, Name: d.Name,
					Type: string(d.Type), PlaybackURL: p.PlaybackURL(c), LatencyMode: string(d.LatencyMode),
					ContainerFormat: string(d.ContainerFormat), Preset: string(d.Preset)},
				InsecureIngest: d.InsecureIngest, SRTPassphrase: d.SRTPassphrase,
				Multitrack: ingest.Multitrack{Enabled: isTrue(d.Multitrack.Enabled), Policy: string(deref(d.Multitrack.Policy)),
					MaximumResolution: string(deref(d.Multitrack.MaximumResolution))},
			}
			if d.RecordingConfigurationArn != "" {
				rc, err := p.loadRecordingConfiguration(ctx, tx, d.RecordingConfigurationArn)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if rc != nil {
					ch.Recording = liveRecording(rc)
				}
			}
			return nil
		}
		return ErrUnknownStreamKey
	})
	return ch, err
}

// maxSessionEvents is how many events a stream session keeps (newest first), as IVS's truncatedEvents.
const maxSessionEvents = 500

// Event detail types of the stream events a session lists.
const (
	detailStateChange  = "IVS Stream State Change"
	detailHealthChange = "IVS Stream Health Change"
)

func sessionARN(s live.Snapshot) string {
	return "arn:aws:ivs:" + s.Channel.Region + ":" + s.Channel.Account + ":" + TypeStreamSession + "/" + s.StreamID
}

// StreamStarted implements live.Observer: it records the stream session with the channel and recording
// configuration as they are at go-live and the ingest configuration read from the media.
func (p *Provider) StreamStarted(ctx context.Context, s live.Snapshot) {
	err := p.st.Update(ctx, func(tx store.Tx) error {
		c, err := tx.Get(ctx, s.Channel.ARN)
		if err != nil {
			return err
		}
		var d channelDoc
		if err := resource.Decode(c, &d); err != nil {
			return err
		}
		ch := p.renderChannel(c, &d)
		sess := ivsapi.StreamSession{StreamId: ptr(s.StreamID), StartTime: awsapi.NewTime(s.StartTime), Channel: &ch,
			IngestConfigurations: ingestConfigurations(s), IngestConfiguration: legacyIngestConfiguration(s)}
		if d.RecordingConfigurationArn != "" {
			if rc, err := p.loadRecordingConfiguration(ctx, tx, d.RecordingConfigurationArn); err == nil {
				sess.RecordingConfiguration = rc
			}
		}
		at := awsapi.NewTime(s.StartTime)
		sess.TruncatedEvents = []ivsapi.StreamEvent{
			{Name: ptr("Session Created"), Type: ptr(detailStateChange), EventTime: at},
		}
		r := &store.Resource{ARN: sessionARN(s), Account: s.Channel.Account, Region: s.Channel.Region,
			Type: TypeStreamSession, ID: s.StreamID, Name: s.StreamID, Parent: s.Channel.ARN,
			Tags: map[string]string{}, Created: s.StartTime}
		if err := resource.Encode(r, &SessionDoc{Session: sess}); err != nil {
			return err
		}
		return tx.Insert(ctx, r)
	})
	if err != nil {
		p.log.Error("recording a stream session failed", "channel", s.Channel.ARN, "stream_id", s.StreamID, "err", err)
	}
}

// StreamEvent implements live.Observer: the event is added to the session's events.
func (p *Provider) StreamEvent(ctx context.Context, s live.Snapshot, name, code string) {
	typ := detailStateChange
	if strings.HasPrefix(name, "Starvation") {
		typ = detailHealthChange
	}
	p.updateSession(ctx, s, func(d *SessionDoc) {
		ev := ivsapi.StreamEvent{Name: ptr(name), Type: ptr(typ), EventTime: awsapi.NewTime(p.now())}
		if code != "" {
			ev.Code = ptr(code)
		}
		d.Session.TruncatedEvents = append([]ivsapi.StreamEvent{ev}, d.Session.TruncatedEvents...)
		if len(d.Session.TruncatedEvents) > maxSessionEvents {
			d.Session.TruncatedEvents = d.Session.TruncatedEvents[:maxSessionEvents]
		}
		if name == live.EventStreamFailure || code != "" {
			d.HasError = true
		}
		d.Session.IngestConfigurations = ingestConfigurations(s)
		d.Session.IngestConfiguration = legacyIngestConfiguration(s)
	})
}

// StreamUpdated implements live.Observer: the session's ingest configuration gets the latest measurements.
func (p *Provider) StreamUpdated(ctx context.Context, s live.Snapshot) {
	p.updateSession(ctx, s, func(d *SessionDoc) {
		d.Session.IngestConfigurations = ingestConfigurations(s)
		d.Session.IngestConfiguration = legacyIngestConfiguration(s)
	})
}

// StreamEnded implements live.Observer: the session gets its end time (and the code it was refused with).
func (p *Provider) StreamEnded(ctx context.Context, s live.Snapshot, reason string) {
	p.updateSession(ctx, s, func(d *SessionDoc) {
		d.Session.EndTime = awsapi.NewTime(s.EndTime)
		ev := ivsapi.StreamEvent{Name: ptr("Session Ended"), Type: ptr(detailStateChange), EventTime: awsapi.NewTime(s.EndTime)}
		if s.Code != "" {
			ev.Code = ptr(s.Code)
			d.HasError = true
		}
		d.Session.TruncatedEvents = append([]ivsapi.StreamEvent{ev}, d.Session.TruncatedEvents...)
		if len(d.Session.TruncatedEvents) > maxSessionEvents {
			d.Session.TruncatedEvents = d.Session.TruncatedEvents[:maxSessionEvents]
		}
	})
}

func (p *Provider) updateSession(ctx context.Context, s live.Snapshot, change func(*SessionDoc)) {
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := tx.Get(ctx, sessionARN(s))
		if err != nil {
			return err
		}
		var d SessionDoc
		if err := resource.Decode(r, &d); err != nil {
			return err
		}
		change(&d)
		if err := resource.Encode(r, &d); err != nil {
			return err
		}
		return tx.Update(ctx, r)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.log.Error("updating a stream session failed", "channel", s.Channel.ARN, "stream_id", s.StreamID, "err", err)
	}
}

// liveRecording is what the recorder needs of a recording configuration.
func liveRecording(rc *ivsapi.RecordingConfiguration) *live.Recording {
	r := &live.Recording{ARN: deref(rc.Arn), State: string(deref(rc.State)),
		ReconnectWindow: time.Duration(deref(rc.RecordingReconnectWindowSeconds)) * time.Second}
	if d := rc.DestinationConfiguration; d != nil && d.S3 != nil {
		r.Bucket = deref(d.S3.BucketName)
	}
	if t := rc.ThumbnailConfiguration; t != nil {
		r.Thumbnails = deref(t.RecordingMode) != ivsapi.RecordingModeDisabled
		r.ThumbnailInterval = time.Duration(deref(t.TargetIntervalSeconds)) * time.Second
		r.ThumbnailResolution = string(deref(t.Resolution))
		for _, s := range t.Storage {
			r.ThumbnailSequential = r.ThumbnailSequential || s == ivsapi.ThumbnailConfigurationStorageSequential
			r.ThumbnailLatest = r.ThumbnailLatest || s == ivsapi.ThumbnailConfigurationStorageLatest
		}
	}
	if rd := rc.RenditionConfiguration; rd != nil {
		r.RenditionSelection = string(deref(rd.RenditionSelection))
		for _, x := range rd.Renditions {
			r.Renditions = append(r.Renditions, string(x))
		}
	}
	return r
}

func isTrue(b *bool) bool { return b != nil && *b }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ingestConfigurations(s live.Snapshot) *ivsapi.IngestConfigurations {
	out := &ivsapi.IngestConfigurations{VideoConfigurations: []ivsapi.VideoConfiguration{}, AudioConfigurations: []ivsapi.AudioConfiguration{}}
	for _, v := range s.Video {
		out.VideoConfigurations = append(out.VideoConfigurations, videoConfiguration(v, false))
	}
	for _, a := range s.Audio {
		out.AudioConfigurations = append(out.AudioConfigurations, audioConfiguration(a))
	}
	return out
}

// legacyIngestConfiguration is the deprecated single-track form (first video and audio track).
func legacyIngestConfiguration(s live.Snapshot) *ivsapi.IngestConfiguration {
	out := &ivsapi.IngestConfiguration{}
	if len(s.Video) > 0 {
		v := videoConfiguration(s.Video[0], true)
		out.Video = &v
	}
	if len(s.Audio) > 0 {
		a := audioConfiguration(s.Audio[0])
		out.Audio = &a
	}
	return out
}

func videoConfiguration(v live.Video, legacy bool) ivsapi.VideoConfiguration {
	c := ivsapi.VideoConfiguration{Codec: ptr(v.Codec), Encoder: ptr(v.Encoder), Track: ptr(v.Track),
		VideoWidth: ptr(int64(v.Width)), VideoHeight: ptr(int64(v.Height)),
		TargetFramerate: ptr(int64(v.Framerate + 0.5)), TargetBitrate: ptr(v.Bitrate),
		Profile: ptr(v.Profile), Level: ptr(v.Level)}
	if legacy && strings.HasPrefix(v.Codec, "avc1.") { // H.264 profile and level: not set for HEVC
		c.AvcProfile, c.AvcLevel = ptr(v.Profile), ptr(v.Level)
	}
	return c
}

func audioConfiguration(a live.Audio) ivsapi.AudioConfiguration {
	return ivsapi.AudioConfiguration{Codec: ptr(a.Codec), SampleRate: ptr(int64(a.SampleRate)),
		Channels: ptr(int64(a.Channels)), TargetBitrate: ptr(a.Bitrate), Track: ptr(a.Track)}
}
