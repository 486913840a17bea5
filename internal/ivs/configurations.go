package ivs

import (
	"context"
	"errors"
	"time"

	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/ivsapi"
	"github.com/openivs/openivs/internal/store"
)

// Recording configurations, playback restriction policies and ad configurations: resources channels refer to.
// Each is stored as its API shape (without arn, name and tags, which the store keeps).

// deleteUnreferenced deletes a configuration that no channel refers to, or answers ConflictException.
func deleteUnreferenced(ctx context.Context, tx store.Tx, arnStr, typ, what string) error {
	if _, err := resource.Get(ctx, tx, arnStr, typ); err != nil {
		return err
	}
	refs, err := tx.Referrers(ctx, arnStr, 1)
	if err != nil {
		return err
	}
	if len(refs) > 0 {
		return ivsapi.NewConflictException("The %s %s is used by channel %s: detach it from every channel first", what, arnStr, refs[0])
	}
	return tx.Delete(ctx, arnStr)
}

// --- recording configurations

func renderRecordingConfiguration(r *store.Resource, d *ivsapi.RecordingConfiguration) ivsapi.RecordingConfiguration {
	out := *d
	out.Arn, out.Name, out.Tags = ptr(r.ARN), ptr(r.Name), r.Tags
	return out
}

// CreateRecordingConfiguration creates a recording configuration with IVS's defaults filled in.
func (p *Provider) CreateRecordingConfiguration(ctx context.Context, in *ivsapi.CreateRecordingConfigurationRequest) (*ivsapi.CreateRecordingConfigurationResponse, error) {
	thumb := ivsapi.ThumbnailConfiguration{RecordingMode: ptr(ivsapi.RecordingModeInterval)}
	if in.ThumbnailConfiguration != nil {
		thumb = *in.ThumbnailConfiguration
	}
	if thumb.RecordingMode == nil {
		thumb.RecordingMode = ptr(ivsapi.RecordingModeInterval)
	}
	switch *thumb.RecordingMode {
	case ivsapi.RecordingModeInterval:
		if thumb.TargetIntervalSeconds == nil {
			thumb.TargetIntervalSeconds = ptr(int64(60))
		}
	case ivsapi.RecordingModeDisabled:
		if thumb.TargetIntervalSeconds != nil {
			return nil, ivsapi.NewValidationException("thumbnailConfiguration.targetIntervalSeconds can be set only when recordingMode is INTERVAL")
		}
	}
	if len(thumb.Storage) == 0 {
		thumb.Storage = []ivsapi.ThumbnailConfigurationStorage{ivsapi.ThumbnailConfigurationStorageSequential}
	}
	rend := ivsapi.RenditionConfiguration{}
	if in.RenditionConfiguration != nil {
		rend = *in.RenditionConfiguration
	}
	if rend.RenditionSelection == nil {
		rend.RenditionSelection = ptr(ivsapi.RenditionConfigurationRenditionSelectionAll)
	}
	if *rend.RenditionSelection == ivsapi.RenditionConfigurationRenditionSelectionCustom && len(rend.Renditions) == 0 {
		return nil, ivsapi.NewValidationException("renditionConfiguration.renditions must list at least one rendition when renditionSelection is CUSTOM")
	}
	if rend.Renditions == nil {
		rend.Renditions = []ivsapi.RenditionConfigurationRendition{}
	}
	window := int64(0)
	if in.RecordingReconnectWindowSeconds != nil {
		window = *in.RecordingReconnectWindowSeconds
	}
	d := ivsapi.RecordingConfiguration{
		DestinationConfiguration: in.DestinationConfiguration, ThumbnailConfiguration: &thumb,
		RenditionConfiguration: &rend, RecordingReconnectWindowSeconds: &window,
		State: ptr(ivsapi.RecordingConfigurationStateActive),
	}
	if p.cfg.Buckets != nil {
		d.State = ptr(ivsapi.RecordingConfigurationStateCreating)
	}
	out := &ivsapi.CreateRecordingConfigurationResponse{}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.New(ctx, TypeRecordingConfiguration, str(in.Name), in.Tags, &d, p.now())
		if err != nil {
			return err
		}
		if err := resource.CheckQuota(ctx, tx, TypeRecordingConfiguration, p.cfg.Quotas.RecordingConfigurations); err != nil {
			return err
		}
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		rc := renderRecordingConfiguration(r, &d)
		out.RecordingConfiguration = &rc
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.cfg.Buckets != nil {
		p.bg.Add(1)
		go p.checkBucket(*out.RecordingConfiguration.Arn, *in.DestinationConfiguration.S3.BucketName)
	}
	return out, nil
}

// bucketCheckTimeout bounds a bucket check; a destination that does not answer in time fails the configuration.
const bucketCheckTimeout = 30 * time.Second

// checkBucket moves a new recording configuration from CREATING to ACTIVE, or to CREATE_FAILED when its bucket
// does not exist or cannot be written, as IVS does.
func (p *Provider) checkBucket(arn, bucket string) {
	defer p.bg.Done()
	ctx, cancel := context.WithTimeout(p.bgCtx, bucketCheckTimeout)
	defer cancel()
	state := ivsapi.RecordingConfigurationStateActive
	if err := p.cfg.Buckets.CheckBucket(ctx, bucket); err != nil {
		if p.bgCtx.Err() != nil {
			return // shutting down: the configuration stays CREATING
		}
		state = ivsapi.RecordingConfigurationStateCreateFailed
		p.log.Warn("recording configuration failed: its bucket cannot be written", "arn", arn, "bucket", bucket, "err", err)
	}
	ctx = context.WithoutCancel(ctx)
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := tx.Get(ctx, arn)
		if err != nil {
			return err
		}
		var d ivsapi.RecordingConfiguration
		if err := resource.Decode(r, &d); err != nil {
			return err
		}
		d.State = ptr(state)
		if err := resource.Encode(r, &d); err != nil {
			return err
		}
		return tx.Update(ctx, r)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.log.Error("recording configuration: saving its state failed", "arn", arn, "err", err)
	}
}

func (p *Provider) loadRecordingConfiguration(ctx context.Context, tx store.Tx, a string) (*ivsapi.RecordingConfiguration, error) {
	r, err := resource.Get(ctx, tx, a, TypeRecordingConfiguration)
	if err != nil {
		return nil, err
	}
	var d ivsapi.RecordingConfiguration
	if err := resource.Decode(r, &d); err != nil {
		return nil, err
	}
	rc := renderRecordingConfiguration(r, &d)
	return &rc, nil
}

// GetRecordingConfiguration returns a recording configuration.
func (p *Provider) GetRecordingConfiguration(ctx context.Context, in *ivsapi.GetRecordingConfigurationRequest) (*ivsapi.GetRecordingConfigurationResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeRecordingConfiguration, true); err != nil {
		return nil, err
	}
	out := &ivsapi.GetRecordingConfigurationResponse{}
	err := p.st.View(ctx, func(tx store.Tx) (err error) {
		out.RecordingConfiguration, err = p.loadRecordingConfiguration(ctx, tx, *in.Arn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListRecordingConfigurations lists the caller's recording configurations.
func (p *Provider) ListRecordingConfigurations(ctx context.Context, in *ivsapi.ListRecordingConfigurationsRequest) (*ivsapi.ListRecordingConfigurationsResponse, error) {
	out := &ivsapi.ListRecordingConfigurationsResponse{RecordingConfigurations: []ivsapi.RecordingConfigurationSummary{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		rs, next, err := p.list(ctx, tx, page{scope: "ListRecordingConfigurations", max: min(100, p.cfg.Quotas.RecordingConfigurations),
			q: store.ListQuery{Type: TypeRecordingConfiguration}}, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var d ivsapi.RecordingConfiguration
			if err := resource.Decode(r, &d); err != nil {
				return err
			}
			out.RecordingConfigurations = append(out.RecordingConfigurations, ivsapi.RecordingConfigurationSummary{
				Arn: ptr(r.ARN), Name: ptr(r.Name), DestinationConfiguration: d.DestinationConfiguration, State: d.State, Tags: r.Tags})
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteRecordingConfiguration deletes a recording configuration no channel uses.
func (p *Provider) DeleteRecordingConfiguration(ctx context.Context, in *ivsapi.DeleteRecordingConfigurationRequest) error {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeRecordingConfiguration, true); err != nil {
		return err
	}
	return p.st.Update(ctx, func(tx store.Tx) error {
		return deleteUnreferenced(ctx, tx, *in.Arn, TypeRecordingConfiguration, "recording configuration")
	})
}

// --- playback restriction policies

func renderPolicy(r *store.Resource, d *ivsapi.PlaybackRestrictionPolicy) ivsapi.PlaybackRestrictionPolicy {
	out := *d
	out.Arn, out.Name, out.Tags = ptr(r.ARN), ptr(r.Name), r.Tags
	if out.AllowedCountries == nil {
		out.AllowedCountries = []string{}
	}
	if out.AllowedOrigins == nil {
		out.AllowedOrigins = []string{}
	}
	if out.EnableStrictOriginEnforcement == nil {
		out.EnableStrictOriginEnforcement = ptr(false)
	}
	return out
}

// CreatePlaybackRestrictionPolicy creates a policy (empty lists allow everything).
func (p *Provider) CreatePlaybackRestrictionPolicy(ctx context.Context, in *ivsapi.CreatePlaybackRestrictionPolicyRequest) (*ivsapi.CreatePlaybackRestrictionPolicyResponse, error) {
	d := ivsapi.PlaybackRestrictionPolicy{AllowedCountries: in.AllowedCountries, AllowedOrigins: in.AllowedOrigins,
		EnableStrictOriginEnforcement: in.EnableStrictOriginEnforcement}
	out := &ivsapi.CreatePlaybackRestrictionPolicyResponse{}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.New(ctx, TypePlaybackRestrictionPolicy, str(in.Name), in.Tags, &d, p.now())
		if err != nil {
			return err
		}
		if err := resource.CheckQuota(ctx, tx, TypePlaybackRestrictionPolicy, p.cfg.Quotas.PlaybackRestrictionPolicies); err != nil {
			return err
		}
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		pol := renderPolicy(r, &d)
		out.PlaybackRestrictionPolicy = &pol
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetPlaybackRestrictionPolicy returns a policy.
func (p *Provider) GetPlaybackRestrictionPolicy(ctx context.Context, in *ivsapi.GetPlaybackRestrictionPolicyRequest) (*ivsapi.GetPlaybackRestrictionPolicyResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypePlaybackRestrictionPolicy, true); err != nil {
		return nil, err
	}
	out := &ivsapi.GetPlaybackRestrictionPolicyResponse{}
	err := p.st.View(ctx, func(tx store.Tx) error {
		r, err := resource.Get(ctx, tx, *in.Arn, TypePlaybackRestrictionPolicy)
		if err != nil {
			return err
		}
		var d ivsapi.PlaybackRestrictionPolicy
		if err := resource.Decode(r, &d); err != nil {
			return err
		}
		pol := renderPolicy(r, &d)
		out.PlaybackRestrictionPolicy = &pol
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListPlaybackRestrictionPolicies lists the caller's policies.
func (p *Provider) ListPlaybackRestrictionPolicies(ctx context.Context, in *ivsapi.ListPlaybackRestrictionPoliciesRequest) (*ivsapi.ListPlaybackRestrictionPoliciesResponse, error) {
	out := &ivsapi.ListPlaybackRestrictionPoliciesResponse{PlaybackRestrictionPolicies: []ivsapi.PlaybackRestrictionPolicySummary{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		rs, next, err := p.list(ctx, tx, page{scope: "ListPlaybackRestrictionPolicies", max: 1,
			q: store.ListQuery{Type: TypePlaybackRestrictionPolicy}}, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var d ivsapi.PlaybackRestrictionPolicy
			if err := resource.Decode(r, &d); err != nil {
				return err
			}
			pol := renderPolicy(r, &d)
			out.PlaybackRestrictionPolicies = append(out.PlaybackRestrictionPolicies, ivsapi.PlaybackRestrictionPolicySummary(pol))
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdatePlaybackRestrictionPolicy changes the members given.
func (p *Provider) UpdatePlaybackRestrictionPolicy(ctx context.Context, in *ivsapi.UpdatePlaybackRestrictionPolicyRequest) (*ivsapi.UpdatePlaybackRestrictionPolicyResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypePlaybackRestrictionPolicy, true); err != nil {
		return nil, err
	}
	out := &ivsapi.UpdatePlaybackRestrictionPolicyResponse{}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.Get(ctx, tx, *in.Arn, TypePlaybackRestrictionPolicy)
		if err != nil {
			return err
		}
		var d ivsapi.PlaybackRestrictionPolicy
		if err := resource.Decode(r, &d); err != nil {
			return err
		}
		if in.AllowedCountries != nil {
			d.AllowedCountries = in.AllowedCountries
		}
		if in.AllowedOrigins != nil {
			d.AllowedOrigins = in.AllowedOrigins
		}
		if in.EnableStrictOriginEnforcement != nil {
			d.EnableStrictOriginEnforcement = in.EnableStrictOriginEnforcement
		}
		if in.Name != nil {
			r.Name = *in.Name
		}
		if err := resource.Encode(r, &d); err != nil {
			return err
		}
		if err := tx.Update(ctx, r); err != nil {
			return err
		}
		pol := renderPolicy(r, &d)
		out.PlaybackRestrictionPolicy = &pol
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeletePlaybackRestrictionPolicy deletes a policy no channel uses.
func (p *Provider) DeletePlaybackRestrictionPolicy(ctx context.Context, in *ivsapi.DeletePlaybackRestrictionPolicyRequest) error {
	if _, err := resource.Resolve(ctx, *in.Arn, TypePlaybackRestrictionPolicy, true); err != nil {
		return err
	}
	return p.st.Update(ctx, func(tx store.Tx) error {
		return deleteUnreferenced(ctx, tx, *in.Arn, TypePlaybackRestrictionPolicy, "playback restriction policy")
	})
}

// --- ad configurations

func renderAdConfiguration(r *store.Resource, d *ivsapi.AdConfiguration) ivsapi.AdConfiguration {
	out := *d
	out.Arn, out.Name, out.Tags = ptr(r.ARN), ptr(r.Name), r.Tags
	return out
}

// CreateAdConfiguration creates an ad configuration.
func (p *Provider) CreateAdConfiguration(ctx context.Context, in *ivsapi.CreateAdConfigurationRequest) (*ivsapi.CreateAdConfigurationResponse, error) {
	d := ivsapi.AdConfiguration{MediaTailorPlaybackConfigurations: in.MediaTailorPlaybackConfigurations}
	out := &ivsapi.CreateAdConfigurationResponse{}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.New(ctx, TypeAdConfiguration, str(in.Name), in.Tags, &d, p.now())
		if err != nil {
			return err
		}
		if err := resource.CheckQuota(ctx, tx, TypeAdConfiguration, p.cfg.Quotas.AdConfigurations); err != nil {
			return err
		}
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		ac := renderAdConfiguration(r, &d)
		out.AdConfiguration = &ac
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetAdConfiguration returns an ad configuration.
func (p *Provider) GetAdConfiguration(ctx context.Context, in *ivsapi.GetAdConfigurationRequest) (*ivsapi.GetAdConfigurationResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeAdConfiguration, true); err != nil {
		return nil, err
	}
	out := &ivsapi.GetAdConfigurationResponse{}
	err := p.st.View(ctx, func(tx store.Tx) error {
		r, err := resource.Get(ctx, tx, *in.Arn, TypeAdConfiguration)
		if err != nil {
			return err
		}
		var d ivsapi.AdConfiguration
		if err := resource.Decode(r, &d); err != nil {
			return err
		}
		ac := renderAdConfiguration(r, &d)
		out.AdConfiguration = &ac
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListAdConfigurations lists the caller's ad configurations.
func (p *Provider) ListAdConfigurations(ctx context.Context, in *ivsapi.ListAdConfigurationsRequest) (*ivsapi.ListAdConfigurationsResponse, error) {
	out := &ivsapi.ListAdConfigurationsResponse{AdConfigurations: []ivsapi.AdConfigurationSummary{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		rs, next, err := p.list(ctx, tx, page{scope: "ListAdConfigurations", max: min(100, p.cfg.Quotas.AdConfigurations),
			q: store.ListQuery{Type: TypeAdConfiguration}}, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var d ivsapi.AdConfiguration
			if err := resource.Decode(r, &d); err != nil {
				return err
			}
			out.AdConfigurations = append(out.AdConfigurations, ivsapi.AdConfigurationSummary(renderAdConfiguration(r, &d)))
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteAdConfiguration deletes an ad configuration no channel uses.
func (p *Provider) DeleteAdConfiguration(ctx context.Context, in *ivsapi.DeleteAdConfigurationRequest) error {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeAdConfiguration, true); err != nil {
		return err
	}
	return p.st.Update(ctx, func(tx store.Tx) error {
		return deleteUnreferenced(ctx, tx, *in.Arn, TypeAdConfiguration, "ad configuration")
	})
}
