package ivs

import (
	"context"

	"github.com/openivs/openivs/internal/arn"
	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/ivsapi"
	"github.com/openivs/openivs/internal/store"
)

// streamKeyDoc is a stream key as stored. The value is the secret an encoder publishes with.
type streamKeyDoc struct {
	Value string `json:"value"`
}

func renderStreamKey(r *store.Resource, d *streamKeyDoc) ivsapi.StreamKey {
	return ivsapi.StreamKey{Arn: ptr(r.ARN), ChannelArn: ptr(r.Parent), Value: ptr(d.Value), Tags: r.Tags}
}

// insertStreamKey creates the stream key of channel ch; a channel has at most one.
func (p *Provider) insertStreamKey(ctx context.Context, tx store.Tx, ch *store.Resource, tags map[string]string) (*ivsapi.StreamKey, error) {
	r, err := resource.New(ctx, TypeStreamKey, "", tags, struct{}{}, p.now())
	if err != nil {
		return nil, err
	}
	existing, err := tx.Children(ctx, ch.ARN)
	if err != nil {
		return nil, err
	}
	for _, c := range existing {
		if c.Type == TypeStreamKey {
			return nil, ivsapi.NewServiceQuotaExceededException("Channel %s already has a stream key: the limit is 1 stream key per channel", ch.ARN)
		}
	}
	d := streamKeyDoc{Value: arn.StreamKeyValue(r.Region, r.ID)}
	if err := resource.Encode(r, &d); err != nil {
		return nil, err
	}
	r.Parent = ch.ARN
	if err := tx.Insert(ctx, r); err != nil {
		return nil, err
	}
	k := renderStreamKey(r, &d)
	return &k, nil
}

// CreateStreamKey creates the stream key of a channel that has none.
func (p *Provider) CreateStreamKey(ctx context.Context, in *ivsapi.CreateStreamKeyRequest) (*ivsapi.CreateStreamKeyResponse, error) {
	if _, err := resource.Resolve(ctx, *in.ChannelArn, TypeChannel, true); err != nil {
		return nil, err
	}
	out := &ivsapi.CreateStreamKeyResponse{}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		ch, err := resource.Get(ctx, tx, *in.ChannelArn, TypeChannel)
		if err != nil {
			return err
		}
		out.StreamKey, err = p.insertStreamKey(ctx, tx, ch, in.Tags)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetStreamKey returns a stream key with its value.
func (p *Provider) GetStreamKey(ctx context.Context, in *ivsapi.GetStreamKeyRequest) (*ivsapi.GetStreamKeyResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeStreamKey, true); err != nil {
		return nil, err
	}
	r, err := p.load(ctx, *in.Arn, TypeStreamKey)
	if err != nil {
		return nil, err
	}
	var d streamKeyDoc
	if err := resource.Decode(r, &d); err != nil {
		return nil, err
	}
	k := renderStreamKey(r, &d)
	return &ivsapi.GetStreamKeyResponse{StreamKey: &k}, nil
}

// BatchGetStreamKey returns the stream keys it finds and an error entry for each it does not.
func (p *Provider) BatchGetStreamKey(ctx context.Context, in *ivsapi.BatchGetStreamKeyRequest) (*ivsapi.BatchGetStreamKeyResponse, error) {
	out := &ivsapi.BatchGetStreamKeyResponse{StreamKeys: []ivsapi.StreamKey{}, Errors: []ivsapi.BatchError{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		for _, a := range in.Arns {
			r, err := p.batchGet(ctx, tx, a, TypeStreamKey)
			if err != nil {
				out.Errors = append(out.Errors, batchError(a, err))
				continue
			}
			var d streamKeyDoc
			if err := resource.Decode(r, &d); err != nil {
				return err
			}
			out.StreamKeys = append(out.StreamKeys, renderStreamKey(r, &d))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListStreamKeys lists a channel's stream keys (without their values).
func (p *Provider) ListStreamKeys(ctx context.Context, in *ivsapi.ListStreamKeysRequest) (*ivsapi.ListStreamKeysResponse, error) {
	if _, err := resource.Resolve(ctx, *in.ChannelArn, TypeChannel, true); err != nil {
		return nil, err
	}
	out := &ivsapi.ListStreamKeysResponse{StreamKeys: []ivsapi.StreamKeySummary{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		if _, err := resource.Get(ctx, tx, *in.ChannelArn, TypeChannel); err != nil {
			return err
		}
		pg := page{scope: "ListStreamKeys/" + *in.ChannelArn, max: 1, q: store.ListQuery{Type: TypeStreamKey, Parent: *in.ChannelArn}}
		rs, next, err := p.list(ctx, tx, pg, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			out.StreamKeys = append(out.StreamKeys, ivsapi.StreamKeySummary{Arn: ptr(r.ARN), ChannelArn: ptr(r.Parent), Tags: r.Tags})
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteStreamKey deletes a stream key; its channel then accepts no encoder until a new key is created.
func (p *Provider) DeleteStreamKey(ctx context.Context, in *ivsapi.DeleteStreamKeyRequest) error {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeStreamKey, true); err != nil {
		return err
	}
	return p.st.Update(ctx, func(tx store.Tx) error {
		if _, err := resource.Get(ctx, tx, *in.Arn, TypeStreamKey); err != nil {
			return err
		}
		return tx.Delete(ctx, *in.Arn)
	})
}
