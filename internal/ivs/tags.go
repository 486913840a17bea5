package ivs

import (
	"context"

	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/ivsapi"
)

// MaxTags is the limit of tags on a resource.
const MaxTags = resource.MaxTags

// taggable are the resource types of this API, which its tag operations accept.
var taggable = resource.Taggable{
	TypeChannel: true, TypeStreamKey: true, TypePlaybackKeyPair: true, TypeRecordingConfiguration: true,
	TypePlaybackRestrictionPolicy: true, TypeAdConfiguration: true,
}

// Owns tells whether a resource ARN belongs to this API (for the tag routes both IVS APIs share).
func Owns(resourceARN string) bool { return taggable.Owns(resourceARN) }

// ListTagsForResource returns a resource's tags.
func (p *Provider) ListTagsForResource(ctx context.Context, in *ivsapi.ListTagsForResourceRequest) (*ivsapi.ListTagsForResourceResponse, error) {
	tags, err := taggable.ListTags(ctx, p.st, *in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return &ivsapi.ListTagsForResourceResponse{Tags: tags}, nil
}

// TagResource adds or replaces tags.
func (p *Provider) TagResource(ctx context.Context, in *ivsapi.TagResourceRequest) (*ivsapi.TagResourceResponse, error) {
	if err := taggable.Tag(ctx, p.st, *in.ResourceArn, in.Tags); err != nil {
		return nil, err
	}
	return &ivsapi.TagResourceResponse{}, nil
}

// UntagResource removes tags by key.
func (p *Provider) UntagResource(ctx context.Context, in *ivsapi.UntagResourceRequest) (*ivsapi.UntagResourceResponse, error) {
	if err := taggable.Untag(ctx, p.st, *in.ResourceArn, in.TagKeys); err != nil {
		return nil, err
	}
	return &ivsapi.UntagResourceResponse{}, nil
}
