package realtime

import (
	"context"

	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/realtimeapi"
	"github.com/openivs/openivs/internal/store"
)

// Encoder configurations and storage configurations: resources compositions (and, for storage, stages' individual
// participant recording) refer to. Referrers are found through store Refs, so deletion is refused while anything
// refers to one.

// MaxPixels is the largest picture an encoder configuration may ask for (1920x1080 or 1080x1920).
const MaxPixels = 2073600

// --- encoder configurations

func renderEncoder(r *store.Resource, v *realtimeapi.Video) realtimeapi.EncoderConfiguration {
	video := *v
	return realtimeapi.EncoderConfiguration{Arn: ptr(r.ARN), Name: ptr(r.Name), Video: &video, Tags: r.Tags}
}

// CreateEncoderConfiguration creates an encoder configuration with IVS's defaults (1280x720, 30 fps, 2,500,000
// bps) for what the request leaves out. Width and height must be even and their product at most 2,073,600.
func (p *Provider) CreateEncoderConfiguration(ctx context.Context, in *realtimeapi.CreateEncoderConfigurationRequest) (*realtimeapi.CreateEncoderConfigurationResponse, error) {
	v := realtimeapi.Video{}
	if in.Video != nil {
		v = *in.Video
	}
	if v.Width == nil {
		v.Width = ptr(int64(1280))
	}
	if v.Height == nil {
		v.Height = ptr(int64(720))
	}
	if v.Framerate == nil {
		v.Framerate = ptr(30.0)
	}
	if v.Bitrate == nil {
		v.Bitrate = ptr(int64(2500000))
	}
	if *v.Width%2 != 0 || *v.Height%2 != 0 {
		return nil, realtimeapi.NewValidationException("video width and height must be even numbers (got %dx%d)", *v.Width, *v.Height)
	}
	if *v.Width**v.Height > MaxPixels {
		return nil, realtimeapi.NewValidationException("video resolution %dx%d exceeds the maximum of %d total pixels (1920x1080 or 1080x1920)",
			*v.Width, *v.Height, MaxPixels)
	}
	out := &realtimeapi.CreateEncoderConfigurationResponse{}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.New(ctx, TypeEncoderConfiguration, str(in.Name), in.Tags, &v, p.now())
		if err != nil {
			return err
		}
		if err := resource.CheckQuota(ctx, tx, TypeEncoderConfiguration, p.cfg.Quotas.EncoderConfigurations); err != nil {
			return err
		}
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		ec := renderEncoder(r, &v)
		out.EncoderConfiguration = &ec
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetEncoderConfiguration returns an encoder configuration.
func (p *Provider) GetEncoderConfiguration(ctx context.Context, in *realtimeapi.GetEncoderConfigurationRequest) (*realtimeapi.GetEncoderConfigurationResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeEncoderConfiguration, true); err != nil {
		return nil, err
	}
	r, err := p.load(ctx, *in.Arn, TypeEncoderConfiguration)
	if err != nil {
		return nil, err
	}
	var v realtimeapi.Video
	if err := resource.Decode(r, &v); err != nil {
		return nil, err
	}
	ec := renderEncoder(r, &v)
	return &realtimeapi.GetEncoderConfigurationResponse{EncoderConfiguration: &ec}, nil
}

// ListEncoderConfigurations lists the caller's encoder configurations.
func (p *Provider) ListEncoderConfigurations(ctx context.Context, in *realtimeapi.ListEncoderConfigurationsRequest) (*realtimeapi.ListEncoderConfigurationsResponse, error) {
	out := &realtimeapi.ListEncoderConfigurationsResponse{EncoderConfigurations: []realtimeapi.EncoderConfigurationSummary{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		rs, next, err := p.list(ctx, tx, page{scope: "ListEncoderConfigurations", max: 100,
			q: store.ListQuery{Type: TypeEncoderConfiguration}}, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			out.EncoderConfigurations = append(out.EncoderConfigurations,
				realtimeapi.EncoderConfigurationSummary{Arn: ptr(r.ARN), Name: ptr(r.Name), Tags: r.Tags})
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteEncoderConfiguration deletes an encoder configuration no composition uses (ConflictException otherwise).
func (p *Provider) DeleteEncoderConfiguration(ctx context.Context, in *realtimeapi.DeleteEncoderConfigurationRequest) (*realtimeapi.DeleteEncoderConfigurationResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeEncoderConfiguration, true); err != nil {
		return nil, err
	}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		return deleteUnreferenced(ctx, tx, *in.Arn, TypeEncoderConfiguration, "encoder configuration")
	})
	if err != nil {
		return nil, err
	}
	return &realtimeapi.DeleteEncoderConfigurationResponse{}, nil
}

// --- storage configurations

type storageDoc struct {
	S3 realtimeapi.S3StorageConfiguration `json:"s3"`
}

func renderStorage(r *store.Resource, d *storageDoc) realtimeapi.StorageConfiguration {
	s3 := d.S3
	return realtimeapi.StorageConfiguration{Arn: ptr(r.ARN), Name: ptr(r.Name), S3: &s3, Tags: r.Tags}
}

// CreateStorageConfiguration creates a storage configuration for an S3 bucket.
//
// IVS checks that the bucket exists in the region and adds itself to the bucket policy. This server has no S3
// configuration yet, so it accepts any valid bucket name; the recording issue, which adds S3, adds that check
// (ResourceNotFoundException for a missing bucket).
func (p *Provider) CreateStorageConfiguration(ctx context.Context, in *realtimeapi.CreateStorageConfigurationRequest) (*realtimeapi.CreateStorageConfigurationResponse, error) {
	d := storageDoc{S3: *in.S3}
	out := &realtimeapi.CreateStorageConfigurationResponse{}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.New(ctx, TypeStorageConfiguration, str(in.Name), in.Tags, &d, p.now())
		if err != nil {
			return err
		}
		if err := resource.CheckQuota(ctx, tx, TypeStorageConfiguration, p.cfg.Quotas.StorageConfigurations); err != nil {
			return err
		}
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		sc := renderStorage(r, &d)
		out.StorageConfiguration = &sc
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetStorageConfiguration returns a storage configuration.
func (p *Provider) GetStorageConfiguration(ctx context.Context, in *realtimeapi.GetStorageConfigurationRequest) (*realtimeapi.GetStorageConfigurationResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeStorageConfiguration, true); err != nil {
		return nil, err
	}
	r, err := p.load(ctx, *in.Arn, TypeStorageConfiguration)
	if err != nil {
		return nil, err
	}
	var d storageDoc
	if err := resource.Decode(r, &d); err != nil {
		return nil, err
	}
	sc := renderStorage(r, &d)
	return &realtimeapi.GetStorageConfigurationResponse{StorageConfiguration: &sc}, nil
}

// ListStorageConfigurations lists the caller's storage configurations.
func (p *Provider) ListStorageConfigurations(ctx context.Context, in *realtimeapi.ListStorageConfigurationsRequest) (*realtimeapi.ListStorageConfigurationsResponse, error) {
	out := &realtimeapi.ListStorageConfigurationsResponse{StorageConfigurations: []realtimeapi.StorageConfigurationSummary{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		rs, next, err := p.list(ctx, tx, page{scope: "ListStorageConfigurations", max: min(100, p.cfg.Quotas.StorageConfigurations),
			q: store.ListQuery{Type: TypeStorageConfiguration}}, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var d storageDoc
			if err := resource.Decode(r, &d); err != nil {
				return err
			}
			s3 := d.S3
			out.StorageConfigurations = append(out.StorageConfigurations,
				realtimeapi.StorageConfigurationSummary{Arn: ptr(r.ARN), Name: ptr(r.Name), S3: &s3, Tags: r.Tags})
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteStorageConfiguration deletes a storage configuration that no composition, and no stage's individual
// participant recording, uses (ConflictException otherwise).
func (p *Provider) DeleteStorageConfiguration(ctx context.Context, in *realtimeapi.DeleteStorageConfigurationRequest) (*realtimeapi.DeleteStorageConfigurationResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeStorageConfiguration, true); err != nil {
		return nil, err
	}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		return deleteUnreferenced(ctx, tx, *in.Arn, TypeStorageConfiguration, "storage configuration")
	})
	if err != nil {
		return nil, err
	}
	return &realtimeapi.DeleteStorageConfigurationResponse{}, nil
}
