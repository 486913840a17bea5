package ivs

import (
	"context"
	"errors"

	"github.com/openivs/openivs/internal/arn"
	"github.com/openivs/openivs/internal/awsapi"
	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/ivsapi"
	"github.com/openivs/openivs/internal/store"
)

// channelDoc is a channel as stored: its settings and SRT passphrase. URLs and tags are added when rendered, so
// a change of the public URL reaches every channel.
type channelDoc struct {
	Name                         string                              `json:"name"`
	LatencyMode                  ivsapi.ChannelLatencyMode           `json:"latencyMode"`
	Type                         ivsapi.ChannelType                  `json:"type"`
	Authorized                   bool                                `json:"authorized"`
	InsecureIngest               bool                                `json:"insecureIngest"`
	Preset                       ivsapi.TranscodePreset              `json:"preset"`
	ContainerFormat              ivsapi.ContainerFormat              `json:"containerFormat"`
	Multitrack                   ivsapi.MultitrackInputConfiguration `json:"multitrack"`
	RecordingConfigurationArn    string                              `json:"recordingConfigurationArn"`
	PlaybackRestrictionPolicyArn string                              `json:"playbackRestrictionPolicyArn"`
	AdConfigurationArn           string                              `json:"adConfigurationArn"`
	SRTPassphrase                string                              `json:"srtPassphrase"`
}

func (d *channelDoc) refs() []string {
	var refs []string
	for _, r := range []string{d.RecordingConfigurationArn, d.PlaybackRestrictionPolicyArn, d.AdConfigurationArn} {
		if r != "" {
			refs = append(refs, r)
		}
	}
	return refs
}

// PlaybackURL is the channel's multivariant playlist URL.
func (p *Provider) PlaybackURL(r *store.Resource) string {
	return p.publicBase + "/api/video/v1/" + r.Region + "." + r.Account + ".channel." + r.ID + ".m3u8"
}

func (p *Provider) renderChannel(r *store.Resource, d *channelDoc) ivsapi.Channel {
	mt := d.Multitrack
	return ivsapi.Channel{
		Arn: ptr(r.ARN), Name: ptr(d.Name), LatencyMode: ptr(d.LatencyMode), Type: ptr(d.Type),
		Authorized: ptr(d.Authorized), InsecureIngest: ptr(d.InsecureIngest), Preset: ptr(d.Preset),
		ContainerFormat: ptr(d.ContainerFormat), MultitrackInputConfiguration: &mt,
		RecordingConfigurationArn: ptr(d.RecordingConfigurationArn), PlaybackRestrictionPolicyArn: ptr(d.PlaybackRestrictionPolicyArn),
		AdConfigurationArn: ptr(d.AdConfigurationArn),
		IngestEndpoint:     ptr(p.ingestEndpoint), PlaybackUrl: ptr(p.PlaybackURL(r)),
		Srt:  &ivsapi.Srt{Endpoint: ptr(p.srtEndpoint), Passphrase: ptr(d.SRTPassphrase)},
		Tags: r.Tags,
	}
}

func renderChannelSummary(r *store.Resource, d *channelDoc) ivsapi.ChannelSummary {
	return ivsapi.ChannelSummary{
		Arn: ptr(r.ARN), Name: ptr(d.Name), LatencyMode: ptr(d.LatencyMode), Type: ptr(d.Type),
		Authorized: ptr(d.Authorized), InsecureIngest: ptr(d.InsecureIngest), Preset: ptr(d.Preset),
		RecordingConfigurationArn: ptr(d.RecordingConfigurationArn), PlaybackRestrictionPolicyArn: ptr(d.PlaybackRestrictionPolicyArn),
		AdConfigurationArn: ptr(d.AdConfigurationArn), Tags: r.Tags,
	}
}

// channelSettings are the members CreateChannel and UpdateChannel share.
type channelSettings struct {
	Name                         *string
	LatencyMode                  *ivsapi.ChannelLatencyMode
	Type                         *ivsapi.ChannelType
	Authorized                   *bool
	InsecureIngest               *bool
	Preset                       *ivsapi.TranscodePreset
	ContainerFormat              *ivsapi.ContainerFormat
	Multitrack                   *ivsapi.MultitrackInputConfiguration
	RecordingConfigurationArn    *string
	PlaybackRestrictionPolicyArn *string
	AdConfigurationArn           *string
}

// apply merges the settings present in s onto d and checks the rules the model documents across members.
func (p *Provider) apply(ctx context.Context, tx store.Tx, d *channelDoc, s channelSettings) error {
	if s.Name != nil {
		d.Name = *s.Name
	}
	if s.LatencyMode != nil {
		d.LatencyMode = *s.LatencyMode
	}
	if s.Type != nil {
		d.Type = *s.Type
	}
	if s.Authorized != nil {
		d.Authorized = *s.Authorized
	}
	if s.InsecureIngest != nil {
		d.InsecureIngest = *s.InsecureIngest
	}
	if s.ContainerFormat != nil {
		d.ContainerFormat = *s.ContainerFormat
	}
	advanced := d.Type == ivsapi.ChannelTypeAdvancedSd || d.Type == ivsapi.ChannelTypeAdvancedHd
	if s.Preset != nil {
		if !advanced {
			return ivsapi.NewValidationException("preset is selectable only for ADVANCED_SD and ADVANCED_HD channels")
		}
		d.Preset = *s.Preset
	}
	if !advanced {
		d.Preset = ""
	} else if d.Preset == "" {
		d.Preset = ivsapi.TranscodePresetHigherBandwidthDelivery
	}
	if s.Multitrack != nil {
		m := *s.Multitrack
		if m.Enabled == nil {
			m.Enabled = ptr(false)
		}
		if *m.Enabled {
			if m.Policy == nil || m.MaximumResolution == nil {
				return ivsapi.NewValidationException("multitrackInputConfiguration.policy and multitrackInputConfiguration.maximumResolution are required when multitrack input is enabled")
			}
		}
		if m.Policy == nil {
			m.Policy = ptr(ivsapi.MultitrackPolicyAllow)
		}
		if m.MaximumResolution == nil {
			m.MaximumResolution = ptr(ivsapi.MultitrackMaximumResolutionFullHd)
		}
		d.Multitrack = m
	}
	if *d.Multitrack.Enabled {
		if d.Type != ivsapi.ChannelTypeStandard {
			return ivsapi.NewValidationException("multitrack input can be enabled only for STANDARD channels")
		}
		if d.ContainerFormat != ivsapi.ContainerFormatFragmentedMp4 {
			return ivsapi.NewValidationException("containerFormat must be FRAGMENTED_MP4 when multitrack input is enabled")
		}
	}
	for _, ref := range []struct {
		in  *string
		dst *string
		typ string
	}{
		{s.RecordingConfigurationArn, &d.RecordingConfigurationArn, TypeRecordingConfiguration},
		{s.PlaybackRestrictionPolicyArn, &d.PlaybackRestrictionPolicyArn, TypePlaybackRestrictionPolicy},
		{s.AdConfigurationArn, &d.AdConfigurationArn, TypeAdConfiguration},
	} {
		if ref.in == nil {
			continue
		}
		if *ref.in != "" {
			if _, err := resource.Resolve(ctx, *ref.in, ref.typ, false); err != nil {
				return err
			}
			if _, err := resource.Get(ctx, tx, *ref.in, ref.typ); err != nil {
				return err
			}
		}
		*ref.dst = *ref.in
	}
	return nil
}

func newChannelDoc() channelDoc {
	return channelDoc{
		LatencyMode: ivsapi.ChannelLatencyModeLow, Type: ivsapi.ChannelTypeStandard,
		ContainerFormat: ivsapi.ContainerFormatTs,
		Multitrack: ivsapi.MultitrackInputConfiguration{Enabled: ptr(false), Policy: ptr(ivsapi.MultitrackPolicyAllow),
			MaximumResolution: ptr(ivsapi.MultitrackMaximumResolutionFullHd)},
		SRTPassphrase: arn.Random(71),
	}
}

// CreateChannel creates a channel and its stream key.
func (p *Provider) CreateChannel(ctx context.Context, in *ivsapi.CreateChannelRequest) (*ivsapi.CreateChannelResponse, error) {
	out := &ivsapi.CreateChannelResponse{}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		d := newChannelDoc()
		err := p.apply(ctx, tx, &d, channelSettings{Name: in.Name, LatencyMode: in.LatencyMode, Type: in.Type,
			Authorized: in.Authorized, InsecureIngest: in.InsecureIngest, Preset: in.Preset, ContainerFormat: in.ContainerFormat,
			Multitrack: in.MultitrackInputConfiguration, RecordingConfigurationArn: in.RecordingConfigurationArn,
			PlaybackRestrictionPolicyArn: in.PlaybackRestrictionPolicyArn, AdConfigurationArn: in.AdConfigurationArn})
		if err != nil {
			return err
		}
		now := p.now()
		ch, err := resource.New(ctx, TypeChannel, d.Name, in.Tags, &d, now)
		if err != nil {
			return err
		}
		if err := resource.CheckQuota(ctx, tx, TypeChannel, p.cfg.Quotas.Channels); err != nil {
			return err
		}
		ch.Refs = d.refs()
		if err := tx.Insert(ctx, ch); err != nil {
			return err
		}
		key, err := p.insertStreamKey(ctx, tx, ch, nil)
		if err != nil {
			return err
		}
		c := p.renderChannel(ch, &d)
		out.Channel, out.StreamKey = &c, key
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetChannel returns a channel.
func (p *Provider) GetChannel(ctx context.Context, in *ivsapi.GetChannelRequest) (*ivsapi.GetChannelResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeChannel, true); err != nil {
		return nil, err
	}
	r, err := p.load(ctx, *in.Arn, TypeChannel)
	if err != nil {
		return nil, err
	}
	d, err := p.docs.channel(r)
	if err != nil {
		return nil, err
	}
	c := p.renderChannel(r, &d)
	return &ivsapi.GetChannelResponse{Channel: &c}, nil
}

// BatchGetChannel returns the channels it finds and an error entry for each it does not.
func (p *Provider) BatchGetChannel(ctx context.Context, in *ivsapi.BatchGetChannelRequest) (*ivsapi.BatchGetChannelResponse, error) {
	out := &ivsapi.BatchGetChannelResponse{Channels: []ivsapi.Channel{}, Errors: []ivsapi.BatchError{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		for _, a := range in.Arns {
			r, err := p.batchGet(ctx, tx, a, TypeChannel)
			if err != nil {
				out.Errors = append(out.Errors, batchError(a, err))
				continue
			}
			d, err := p.docs.channel(r)
			if err != nil {
				return err
			}
			out.Channels = append(out.Channels, p.renderChannel(r, &d))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (p *Provider) batchGet(ctx context.Context, tx store.Tx, a, typ string) (*store.Resource, error) {
	if _, err := resource.Resolve(ctx, a, typ, true); err != nil {
		return nil, err
	}
	return resource.Get(ctx, tx, a, typ)
}

func batchError(a string, err error) ivsapi.BatchError {
	code, msg := "InternalServerException", "Unexpected error during processing of request."
	var ae *awsapi.Error
	if errors.As(err, &ae) {
		code, msg = ae.Code, ae.Message
	}
	return ivsapi.BatchError{Arn: ptr(a), Code: ptr(code), Message: ptr(msg)}
}

// ListChannels lists the caller's channels, optionally filtered by one of name or a referenced configuration.
func (p *Provider) ListChannels(ctx context.Context, in *ivsapi.ListChannelsRequest) (*ivsapi.ListChannelsResponse, error) {
	pg := page{scope: "ListChannels", max: 100, q: store.ListQuery{Type: TypeChannel}}
	filters := 0
	for _, f := range []struct {
		v    *string
		name string
		set  func(string)
	}{
		{in.FilterByName, "name", func(v string) { pg.q.Name = v }},
		{in.FilterByRecordingConfigurationArn, "rc", func(v string) { pg.q.Ref = v }},
		{in.FilterByPlaybackRestrictionPolicyArn, "prp", func(v string) { pg.q.Ref = v }},
		{in.FilterByAdConfigurationArn, "ad", func(v string) { pg.q.Ref = v }},
	} {
		if f.v != nil && *f.v != "" {
			filters++
			f.set(*f.v)
			pg.scope += "/" + f.name + "=" + *f.v
		}
	}
	if filters > 1 {
		return nil, ivsapi.NewConflictException("ListChannels accepts only one filter at a time")
	}
	out := &ivsapi.ListChannelsResponse{Channels: []ivsapi.ChannelSummary{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		rs, next, err := p.list(ctx, tx, pg, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			d, err := p.docs.channel(r)
			if err != nil {
				return err
			}
			out.Channels = append(out.Channels, renderChannelSummary(r, &d))
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateChannel changes an offline channel.
func (p *Provider) UpdateChannel(ctx context.Context, in *ivsapi.UpdateChannelRequest) (*ivsapi.UpdateChannelResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeChannel, true); err != nil {
		return nil, err
	}
	out := &ivsapi.UpdateChannelResponse{}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.Get(ctx, tx, *in.Arn, TypeChannel)
		if err != nil {
			return err
		}
		if _, live := p.live.Stream(r.ARN); live {
			return ivsapi.NewConflictException("Live channels cannot be updated: %s", r.ARN)
		}
		var d channelDoc
		if err := resource.Decode(r, &d); err != nil {
			return err
		}
		err = p.apply(ctx, tx, &d, channelSettings{Name: in.Name, LatencyMode: in.LatencyMode, Type: in.Type,
			Authorized: in.Authorized, InsecureIngest: in.InsecureIngest, Preset: in.Preset, ContainerFormat: in.ContainerFormat,
			Multitrack: in.MultitrackInputConfiguration, RecordingConfigurationArn: in.RecordingConfigurationArn,
			PlaybackRestrictionPolicyArn: in.PlaybackRestrictionPolicyArn, AdConfigurationArn: in.AdConfigurationArn})
		if err != nil {
			return err
		}
		r.Name, r.Refs = d.Name, d.refs()
		if err := resource.Encode(r, &d); err != nil {
			return err
		}
		if err := tx.Update(ctx, r); err != nil {
			return err
		}
		c := p.renderChannel(r, &d)
		out.Channel = &c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteChannel deletes an offline channel with its stream keys, sessions and revocations.
func (p *Provider) DeleteChannel(ctx context.Context, in *ivsapi.DeleteChannelRequest) error {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeChannel, true); err != nil {
		return err
	}
	return p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.Get(ctx, tx, *in.Arn, TypeChannel)
		if err != nil {
			return err
		}
		if _, live := p.live.Stream(r.ARN); live {
			return ivsapi.NewConflictException("Channel %s is live: stop the stream and wait for Stream End before deleting it", r.ARN)
		}
		children, err := tx.Children(ctx, r.ARN)
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := tx.Delete(ctx, c.ARN); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, r.ARN)
	})
}
