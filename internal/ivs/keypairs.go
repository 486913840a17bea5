package ivs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/ivsapi"
	"github.com/openivs/openivs/internal/store"
)

// keyPairDoc is an imported playback key pair: the public key (PEM, normalised) and its fingerprint.
type keyPairDoc struct {
	PublicKeyPEM string `json:"publicKeyPem"`
	Fingerprint  string `json:"fingerprint"`
}

// ParseP384PublicKey accepts a PEM "PUBLIC KEY" (SPKI) holding an ECDSA P-384 key, the only kind IVS accepts for
// playback tokens (ES384), and returns it with its DER encoding.
func ParseP384PublicKey(material string) (*ecdsa.PublicKey, []byte, error) {
	block, rest := pem.Decode([]byte(strings.TrimSpace(material)))
	if block == nil {
		return nil, nil, fmt.Errorf("publicKeyMaterial is not a PEM-encoded public key")
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, nil, fmt.Errorf("publicKeyMaterial must hold exactly one PEM block")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, nil, fmt.Errorf("publicKeyMaterial must be a PEM \"PUBLIC KEY\" block, not %q", block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("publicKeyMaterial is not a valid public key")
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P384() {
		return nil, nil, fmt.Errorf("publicKeyMaterial must be an ECDSA P-384 (secp384r1) public key")
	}
	return ec, block.Bytes, nil
}

// Fingerprint is the key's fingerprint: MD5 over the DER SubjectPublicKeyInfo, as colon-separated hex, the form
// IVS shows (16 bytes). It is stable: the same key always has the same fingerprint.
func Fingerprint(der []byte) string {
	sum := md5.Sum(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}

func renderKeyPair(r *store.Resource, d *keyPairDoc) ivsapi.PlaybackKeyPair {
	return ivsapi.PlaybackKeyPair{Arn: ptr(r.ARN), Name: ptr(r.Name), Fingerprint: ptr(d.Fingerprint), Tags: r.Tags}
}

// ImportPlaybackKeyPair imports the public key of a key pair whose private key signs playback tokens.
func (p *Provider) ImportPlaybackKeyPair(ctx context.Context, in *ivsapi.ImportPlaybackKeyPairRequest) (*ivsapi.ImportPlaybackKeyPairResponse, error) {
	_, der, err := ParseP384PublicKey(*in.PublicKeyMaterial)
	if err != nil {
		return nil, ivsapi.NewValidationException("%s", err.Error())
	}
	d := keyPairDoc{
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		Fingerprint:  Fingerprint(der),
	}
	out := &ivsapi.ImportPlaybackKeyPairResponse{}
	err = p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.New(ctx, TypePlaybackKeyPair, str(in.Name), in.Tags, &d, p.now())
		if err != nil {
			return err
		}
		c := resource.Caller(ctx)
		existing, err := tx.List(ctx, store.ListQuery{Account: c.AccountID, Region: c.Region, Type: TypePlaybackKeyPair})
		if err != nil {
			return err
		}
		for _, e := range existing {
			var ed keyPairDoc
			if err := resource.Decode(e, &ed); err != nil {
				return err
			}
			if ed.Fingerprint == d.Fingerprint {
				return ivsapi.NewConflictException("A playback key pair with this public key already exists: %s", e.ARN)
			}
		}
		if len(existing) >= p.cfg.Quotas.PlaybackKeyPairs {
			return ivsapi.NewServiceQuotaExceededException("Request would exceed the limit of %d playback key pairs for this account in %s", p.cfg.Quotas.PlaybackKeyPairs, c.Region)
		}
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		k := renderKeyPair(r, &d)
		out.KeyPair = &k
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetPlaybackKeyPair returns a key pair's name, fingerprint and tags.
func (p *Provider) GetPlaybackKeyPair(ctx context.Context, in *ivsapi.GetPlaybackKeyPairRequest) (*ivsapi.GetPlaybackKeyPairResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypePlaybackKeyPair, true); err != nil {
		return nil, err
	}
	out := &ivsapi.GetPlaybackKeyPairResponse{}
	err := p.st.View(ctx, func(tx store.Tx) error {
		r, err := resource.Get(ctx, tx, *in.Arn, TypePlaybackKeyPair)
		if err != nil {
			return err
		}
		var d keyPairDoc
		if err := resource.Decode(r, &d); err != nil {
			return err
		}
		k := renderKeyPair(r, &d)
		out.KeyPair = &k
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListPlaybackKeyPairs lists the caller's key pairs.
func (p *Provider) ListPlaybackKeyPairs(ctx context.Context, in *ivsapi.ListPlaybackKeyPairsRequest) (*ivsapi.ListPlaybackKeyPairsResponse, error) {
	out := &ivsapi.ListPlaybackKeyPairsResponse{KeyPairs: []ivsapi.PlaybackKeyPairSummary{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		rs, next, err := p.list(ctx, tx, page{scope: "ListPlaybackKeyPairs", max: min(100, p.cfg.Quotas.PlaybackKeyPairs),
			q: store.ListQuery{Type: TypePlaybackKeyPair}}, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			out.KeyPairs = append(out.KeyPairs, ivsapi.PlaybackKeyPairSummary{Arn: ptr(r.ARN), Name: ptr(r.Name), Tags: r.Tags})
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeletePlaybackKeyPair deletes a key pair: tokens signed with its private key stop being accepted.
func (p *Provider) DeletePlaybackKeyPair(ctx context.Context, in *ivsapi.DeletePlaybackKeyPairRequest) (*ivsapi.DeletePlaybackKeyPairResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypePlaybackKeyPair, true); err != nil {
		return nil, err
	}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		if _, err := resource.Get(ctx, tx, *in.Arn, TypePlaybackKeyPair); err != nil {
			return err
		}
		return tx.Delete(ctx, *in.Arn)
	})
	if err != nil {
		return nil, err
	}
	return &ivsapi.DeletePlaybackKeyPairResponse{}, nil
}
