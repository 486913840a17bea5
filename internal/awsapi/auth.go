package awsapi

import (
	"errors"
	"net/http"

	"github.com/openivs/openivs/internal/awsapi/sigv4"
)

// OpenAuth accepts any request, signed or not, like local emulators do. The account is the one the credentials
// table lists for the request's access key, else Account; the region is the one the request is signed for, else
// Region.
type OpenAuth struct {
	Credentials sigv4.Credentials
	Account     string
	Region      string
}

// Authenticate implements Authenticator.
func (a *OpenAuth) Authenticate(r *http.Request, _ []byte) (Caller, error) {
	c := Caller{AccountID: a.Account, Region: a.Region}
	scope, ok, err := sigv4.ParseScope(r)
	if err != nil || !ok {
		return c, nil
	}
	c.AccessKeyID = scope.AccessKeyID
	if scope.Region != "" {
		c.Region = scope.Region
	}
	if cred, ok := a.Credentials.Lookup(scope.AccessKeyID); ok {
		c.AccountID = cred.AccountID
	}
	return c, nil
}

// SigV4Auth verifies every request's signature; the account is the access key's, the region the signed one.
type SigV4Auth struct {
	Verifier *sigv4.Verifier
}

// Authenticate implements Authenticator.
func (a *SigV4Auth) Authenticate(r *http.Request, body []byte) (Caller, error) {
	cred, scope, err := a.Verifier.Verify(r, body)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			return Caller{}, &Error{Code: se.Code, Status: se.Status, Message: se.Message}
		}
		return Caller{}, err
	}
	return Caller{AccountID: cred.AccountID, Region: scope.Region, AccessKeyID: cred.AccessKeyID}, nil
}
