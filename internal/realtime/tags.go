package realtime

import (
	"context"
	"strings"

	"github.com/openivs/openivs/internal/spec/realtimeapi"
	"github.com/openivs/openivs/internal/store"
)

// MaxTags is the limit of tags on a resource.
const MaxTags = 50

// taggable are the resource types of this API, which its tag operations accept.
var taggable = map[string]bool{
	TypeStage: true, TypeEncoderConfiguration: true, TypeStorageConfiguration: true, TypeIngestConfiguration: true,
	TypePublicKey: true, TypeComposition: true,
}

// Owns tells whether a resource ARN belongs to this API (for the tag routes both IVS APIs share).
func Owns(resourceARN string) bool {
	for t := range taggable {
		if strings.Contains(resourceARN, ":"+t+"/") {
			return true
		}
	}
	return false
}

func (p *Provider) taggableResource(ctx context.Context, tx store.Tx, a string) (*store.Resource, error) {
	parsed, err := resolve(ctx, a, "", false)
	if err != nil {
		return nil, err
	}
	if !taggable[parsed.Type] {
		return nil, realtimeapi.NewResourceNotFoundException("Resource: %s not found", a)
	}
	return get(ctx, tx, a, parsed.Type)
}

// ListTagsForResource returns a resource's tags.
func (p *Provider) ListTagsForResource(ctx context.Context, in *realtimeapi.ListTagsForResourceRequest) (*realtimeapi.ListTagsForResourceResponse, error) {
	out := &realtimeapi.ListTagsForResourceResponse{}
	err := p.st.View(ctx, func(tx store.Tx) error {
		r, err := p.taggableResource(ctx, tx, *in.ResourceArn)
		if err != nil {
			return err
		}
		out.Tags = r.Tags
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// TagResource adds or replaces tags.
func (p *Provider) TagResource(ctx context.Context, in *realtimeapi.TagResourceRequest) (*realtimeapi.TagResourceResponse, error) {
	if err := checkTagKeys(in.Tags); err != nil {
		return nil, err
	}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := p.taggableResource(ctx, tx, *in.ResourceArn)
		if err != nil {
			return err
		}
		merged := make(map[string]string, len(r.Tags)+len(in.Tags))
		for k, v := range r.Tags {
			merged[k] = v
		}
		for k, v := range in.Tags {
			merged[k] = v
		}
		if len(merged) > MaxTags {
			return realtimeapi.NewValidationException("Resource %s would have %d tags: the limit is %d", r.ARN, len(merged), MaxTags)
		}
		r.Tags = merged
		return tx.Update(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &realtimeapi.TagResourceResponse{}, nil
}

// UntagResource removes tags by key.
func (p *Provider) UntagResource(ctx context.Context, in *realtimeapi.UntagResourceRequest) (*realtimeapi.UntagResourceResponse, error) {
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := p.taggableResource(ctx, tx, *in.ResourceArn)
		if err != nil {
			return err
		}
		for _, k := range in.TagKeys {
			delete(r.Tags, k)
		}
		return tx.Update(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &realtimeapi.UntagResourceResponse{}, nil
}
