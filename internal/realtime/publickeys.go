package realtime

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/openivs/openivs/internal/ivs"
	"github.com/openivs/openivs/internal/realtime/token"
	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/realtimeapi"
	"github.com/openivs/openivs/internal/store"
)

// Public keys: the customer's ECDSA P-384 keys whose private halves sign self-signed participant tokens (their
// JWT header's kid is the public key's ARN).

// publicKeyDoc is an imported public key: the material as imported (IVS echoes it back), its DER encoding and its
// fingerprint.
type publicKeyDoc struct {
	Material    string `json:"material"`
	DER         []byte `json:"der"`
	Fingerprint string `json:"fingerprint"`
}

func renderPublicKey(r *store.Resource, d *publicKeyDoc) realtimeapi.PublicKey {
	return realtimeapi.PublicKey{Arn: ptr(r.ARN), Name: ptr(r.Name), PublicKeyMaterial: ptr(d.Material),
		Fingerprint: ptr(d.Fingerprint), Tags: r.Tags}
}

// ImportPublicKey imports a PEM ECDSA P-384 public key. The same key twice in an account and region is a
// ConflictException.
func (p *Provider) ImportPublicKey(ctx context.Context, in *realtimeapi.ImportPublicKeyRequest) (*realtimeapi.ImportPublicKeyResponse, error) {
	_, der, err := ivs.ParseP384PublicKey(*in.PublicKeyMaterial)
	if err != nil {
		return nil, realtimeapi.NewValidationException("%s", err.Error())
	}
	d := publicKeyDoc{Material: *in.PublicKeyMaterial, DER: der, Fingerprint: ivs.Fingerprint(der)}
	out := &realtimeapi.ImportPublicKeyResponse{}
	err = p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.New(ctx, TypePublicKey, str(in.Name), in.Tags, &d, p.now())
		if err != nil {
			return err
		}
		c := resource.Caller(ctx)
		existing, err := tx.List(ctx, store.ListQuery{Account: c.AccountID, Region: c.Region, Type: TypePublicKey})
		if err != nil {
			return err
		}
		for _, e := range existing {
			var ed publicKeyDoc
			if err := resource.Decode(e, &ed); err != nil {
				return err
			}
			if ed.Fingerprint == d.Fingerprint {
				return realtimeapi.NewConflictException("A public key with this material already exists: %s", e.ARN)
			}
		}
		if len(existing) >= p.cfg.Quotas.PublicKeys {
			return realtimeapi.NewServiceQuotaExceededException("Request would exceed the limit of %d public keys for this account in %s",
				p.cfg.Quotas.PublicKeys, c.Region)
		}
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		k := renderPublicKey(r, &d)
		out.PublicKey = &k
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetPublicKey returns a public key with its material.
func (p *Provider) GetPublicKey(ctx context.Context, in *realtimeapi.GetPublicKeyRequest) (*realtimeapi.GetPublicKeyResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypePublicKey, true); err != nil {
		return nil, err
	}
	r, err := p.load(ctx, *in.Arn, TypePublicKey)
	if err != nil {
		return nil, err
	}
	var d publicKeyDoc
	if err := resource.Decode(r, &d); err != nil {
		return nil, err
	}
	k := renderPublicKey(r, &d)
	return &realtimeapi.GetPublicKeyResponse{PublicKey: &k}, nil
}

// ListPublicKeys lists the caller's public keys.
func (p *Provider) ListPublicKeys(ctx context.Context, in *realtimeapi.ListPublicKeysRequest) (*realtimeapi.ListPublicKeysResponse, error) {
	out := &realtimeapi.ListPublicKeysResponse{PublicKeys: []realtimeapi.PublicKeySummary{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		rs, next, err := p.list(ctx, tx, page{scope: "ListPublicKeys", max: 50, q: store.ListQuery{Type: TypePublicKey}},
			in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			out.PublicKeys = append(out.PublicKeys, realtimeapi.PublicKeySummary{Arn: ptr(r.ARN), Name: ptr(r.Name), Tags: r.Tags})
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeletePublicKey deletes a public key: tokens signed with its private key are refused from then on.
func (p *Provider) DeletePublicKey(ctx context.Context, in *realtimeapi.DeletePublicKeyRequest) (*realtimeapi.DeletePublicKeyResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypePublicKey, true); err != nil {
		return nil, err
	}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		if _, err := resource.Get(ctx, tx, *in.Arn, TypePublicKey); err != nil {
			return err
		}
		return tx.Delete(ctx, *in.Arn)
	})
	if err != nil {
		return nil, err
	}
	return &realtimeapi.DeletePublicKeyResponse{}, nil
}

// PublicKey returns the imported public key with the ARN (token.Lookup), or token.ErrUnknownKey.
func (p *Provider) PublicKey(ctx context.Context, keyARN string) (*ecdsa.PublicKey, error) {
	r, err := p.st.Get(ctx, keyARN)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.Type != TypePublicKey) {
		return nil, token.ErrUnknownKey
	}
	if err != nil {
		return nil, err
	}
	var d publicKeyDoc
	if err := resource.Decode(r, &d); err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(d.DER)
	if err != nil {
		return nil, fmt.Errorf("realtime: public key %s: %w", keyARN, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("realtime: public key %s is not ECDSA", keyARN)
	}
	return ec, nil
}
