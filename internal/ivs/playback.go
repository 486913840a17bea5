package ivs

import (
	"context"
	"errors"

	"github.com/openivs/openivs/internal/arn"
	"github.com/openivs/openivs/internal/playback"
	"github.com/openivs/openivs/internal/playback/auth"
	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/ivsapi"
	"github.com/openivs/openivs/internal/store"
)

// The provider is playback's Authority: what the playbackUrl's checks need from the control plane. Single
// resources are read with Store.Get, which the store serves from its cache.

// PlaybackChannel implements playback.Authority.
func (p *Provider) PlaybackChannel(ctx context.Context, region, account, id string) (playback.Channel, error) {
	c, err := p.st.Get(ctx, arn.New(region, account, TypeChannel, id))
	if errors.Is(err, store.ErrNotFound) {
		return playback.Channel{}, playback.ErrNoChannel
	} else if err != nil {
		return playback.Channel{}, err
	}
	var d channelDoc
	if err := resource.Decode(c, &d); err != nil {
		return playback.Channel{}, err
	}
	out := playback.Channel{ARN: c.ARN, Authorized: d.Authorized}
	if d.PlaybackRestrictionPolicyArn != "" {
		r, err := p.st.Get(ctx, d.PlaybackRestrictionPolicyArn)
		if err != nil {
			return playback.Channel{}, err
		}
		var pd ivsapi.PlaybackRestrictionPolicy
		if err := resource.Decode(r, &pd); err != nil {
			return playback.Channel{}, err
		}
		out.Policy = &auth.Policy{AllowedCountries: pd.AllowedCountries, AllowedOrigins: pd.AllowedOrigins,
			StrictOriginEnforcement: isTrue(pd.EnableStrictOriginEnforcement)}
	}
	return out, nil
}

// PlaybackKeys implements playback.Authority.
func (p *Provider) PlaybackKeys(ctx context.Context, region, account string) ([]playback.Key, error) {
	var keys []playback.Key
	err := p.st.View(ctx, func(tx store.Tx) error {
		rs, err := tx.List(ctx, store.ListQuery{Account: account, Region: region, Type: TypePlaybackKeyPair})
		if err != nil {
			return err
		}
		for _, r := range rs {
			var d keyPairDoc
			if err := resource.Decode(r, &d); err != nil {
				return err
			}
			keys = append(keys, playback.Key{ARN: r.ARN, PEM: d.PublicKeyPEM})
		}
		return nil
	})
	return keys, err
}

// KeyExists implements playback.Authority.
func (p *Provider) KeyExists(ctx context.Context, keyARN string) bool {
	_, err := p.st.Get(ctx, keyARN)
	return err == nil
}

// RevokedThrough implements playback.Authority.
func (p *Provider) RevokedThrough(ctx context.Context, channelARN, viewerID string) (int64, bool) {
	ch, err := arn.Parse(channelARN)
	if err != nil {
		return 0, false
	}
	key, _ := RevocationARN(ch, viewerID)
	r, err := p.st.Get(ctx, key)
	if err != nil {
		return 0, false
	}
	var d RevocationDoc
	if err := resource.Decode(r, &d); err != nil || d.ViewerID != viewerID {
		return 0, false
	}
	return d.Version, true
}
