// Package resource holds what the providers of both IVS APIs (internal/ivs, internal/realtime) do alike with
// stored resources: resolving an ARN against the caller's account and region, loading with the modelled
// not-found error, creating with a fresh id, JSON documents, quotas and the tag operations. The error codes and
// statuses are the ones both service models declare (ResourceNotFoundException 404, AccessDeniedException 403,
// ValidationException 400, ServiceQuotaExceededException 402).
package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/openivs/openivs/internal/arn"
	"github.com/openivs/openivs/internal/awsapi"
	"github.com/openivs/openivs/internal/store"
)

// MaxTags is the limit of tags on a resource, in both APIs.
const MaxTags = 50

// NotFound is the modelled ResourceNotFoundException for an ARN.
func NotFound(arnStr string) error {
	return awsapi.NewError("ResourceNotFoundException", http.StatusNotFound, "Resource: %s not found", arnStr)
}

func validation(format string, args ...any) error {
	return awsapi.NewError("ValidationException", http.StatusBadRequest, format, args...)
}

// Caller returns the account and region of the request.
func Caller(ctx context.Context) awsapi.Caller {
	c, _ := awsapi.CallerFrom(ctx)
	return c
}

// Resolve checks that an ARN names a resource of the expected type (any type when typ is "") that the caller may
// see, and returns its parsed form. ARNs of other accounts are refused (AccessDeniedException where the operation
// models it, else not found); ARNs of another region are not found, as a regional endpoint would answer.
func Resolve(ctx context.Context, s, typ string, accessDenied bool) (arn.ARN, error) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "ivs" || (typ != "" && a.Type != typ) {
		return a, NotFound(s)
	}
	c := Caller(ctx)
	if a.Account != c.AccountID {
		if accessDenied {
			return a, awsapi.NewError("AccessDeniedException", http.StatusForbidden,
				"User: arn:aws:iam::%s:user/%s is not authorized to access resource: %s", c.AccountID, c.AccessKeyID, s)
		}
		return a, NotFound(s)
	}
	if a.Region != c.Region {
		return a, NotFound(s)
	}
	return a, nil
}

// Get loads a resource of the type in a transaction, or answers ResourceNotFoundException.
func Get(ctx context.Context, tx store.Tx, arnStr, typ string) (*store.Resource, error) {
	r, err := tx.Get(ctx, arnStr)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.Type != typ) {
		return nil, NotFound(arnStr)
	}
	return r, err
}

// Load reads one resource of the type outside a transaction (possibly from the store's cache), or answers
// ResourceNotFoundException.
func Load(ctx context.Context, st store.Store, arnStr, typ string) (*store.Resource, error) {
	r, err := st.Get(ctx, arnStr)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.Type != typ) {
		return nil, NotFound(arnStr)
	}
	return r, err
}

// New prepares a resource of the caller's with a fresh id and doc as its JSON document.
func New(ctx context.Context, typ, name string, tags map[string]string, doc any, now time.Time) (*store.Resource, error) {
	if err := CheckTagKeys(tags); err != nil {
		return nil, err
	}
	c := Caller(ctx)
	id := arn.NewID()
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("resource: encode %s: %w", typ, err)
	}
	if tags == nil {
		tags = map[string]string{}
	}
	return &store.Resource{ARN: arn.New(c.Region, c.AccountID, typ, id), Account: c.AccountID, Region: c.Region,
		Type: typ, ID: id, Name: name, Tags: tags, Data: data, Created: now.UTC()}, nil
}

// CheckTagKeys refuses the "aws:" prefix, which AWS reserves.
func CheckTagKeys(tags map[string]string) error {
	for k := range tags {
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return validation("Tag keys starting with 'aws:' are reserved for AWS use: %s", k)
		}
	}
	return nil
}

// Decode reads a resource's JSON document into doc.
func Decode(r *store.Resource, doc any) error {
	if err := json.Unmarshal(r.Data, doc); err != nil {
		return fmt.Errorf("resource: decode %s %s: %w", r.Type, r.ID, err)
	}
	return nil
}

// Encode sets a resource's JSON document.
func Encode(r *store.Resource, doc any) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("resource: encode %s %s: %w", r.Type, r.ID, err)
	}
	r.Data = b
	return nil
}

// CheckQuota answers ServiceQuotaExceededException when the caller already has limit resources of the type.
func CheckQuota(ctx context.Context, tx store.Tx, typ string, limit int) error {
	c := Caller(ctx)
	n, err := tx.Count(ctx, c.AccountID, c.Region, typ)
	if err != nil {
		return err
	}
	if n >= limit {
		return awsapi.NewError("ServiceQuotaExceededException", http.StatusPaymentRequired,
			"Request would exceed the limit of %d resources of type %s for this account in %s", limit, typ, c.Region)
	}
	return nil
}

// Taggable is the set of resource types an API's tag operations accept.
type Taggable map[string]bool

// Owns tells whether a resource ARN is of one of the types (for the tag routes both IVS APIs share).
func (t Taggable) Owns(resourceARN string) bool {
	a, err := arn.Parse(resourceARN)
	return err == nil && t[a.Type]
}

func (t Taggable) load(ctx context.Context, tx store.Tx, a string) (*store.Resource, error) {
	parsed, err := Resolve(ctx, a, "", false)
	if err != nil {
		return nil, err
	}
	if !t[parsed.Type] {
		return nil, NotFound(a)
	}
	return Get(ctx, tx, a, parsed.Type)
}

// ListTags returns a resource's tags.
func (t Taggable) ListTags(ctx context.Context, st store.Store, resourceARN string) (map[string]string, error) {
	var tags map[string]string
	err := st.View(ctx, func(tx store.Tx) error {
		r, err := t.load(ctx, tx, resourceARN)
		if err != nil {
			return err
		}
		tags = r.Tags
		return nil
	})
	return tags, err
}

// Tag adds or replaces tags, keeping a resource at MaxTags at most.
func (t Taggable) Tag(ctx context.Context, st store.Store, resourceARN string, tags map[string]string) error {
	if err := CheckTagKeys(tags); err != nil {
		return err
	}
	return st.Update(ctx, func(tx store.Tx) error {
		r, err := t.load(ctx, tx, resourceARN)
		if err != nil {
			return err
		}
		merged := maps.Clone(r.Tags)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, tags)
		if len(merged) > MaxTags {
			return validation("Resource %s would have %d tags: the limit is %d", r.ARN, len(merged), MaxTags)
		}
		r.Tags = merged
		return tx.Update(ctx, r)
	})
}

// Untag removes tags by key.
func (t Taggable) Untag(ctx context.Context, st store.Store, resourceARN string, keys []string) error {
	return st.Update(ctx, func(tx store.Tx) error {
		r, err := t.load(ctx, tx, resourceARN)
		if err != nil {
			return err
		}
		for _, k := range keys {
			delete(r.Tags, k)
		}
		return tx.Update(ctx, r)
	})
}
