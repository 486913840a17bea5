package awsapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Operation is one API operation as the service model describes it, bound to a provider. The generated code in
// internal/spec builds these; the protocol layer turns them into an http.Handler.
type Operation struct {
	Name   string   // operation name, e.g. "CreateChannel"
	Method string   // HTTP method
	Path   string   // request URI template, e.g. "/tags/{resourceArn}"
	Status int      // success status code
	Errors []string // the error codes the model lists for this operation
	// NewInput returns a new, empty input value to decode the request into.
	NewInput func() Input
	// Invoke calls the provider. out is nil for operations without an output shape.
	Invoke func(ctx context.Context, in Input) (out any, err error)
}

// Input is a generated request shape.
type Input interface {
	// Validate checks every constraint of the model and returns a ValidationException naming the fields.
	Validate() error
}

// ParamBinder is implemented by inputs with members bound to the URI, the query string or headers.
type ParamBinder interface {
	BindParams(p *Params) error
}

// Params are the parts of a request outside the JSON body.
type Params struct {
	Path   map[string]string
	Query  url.Values
	Header http.Header
}

// Error is a modelled API error: it is encoded with its status, an x-amzn-ErrorType header and a JSON body with
// exceptionMessage (and message, which the SDKs read).
type Error struct {
	Code    string
	Status  int
	Message string
	Fault   bool // server-side fault (5xx) rather than a client error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NewError returns an *Error with a formatted message.
func NewError(code string, status int, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Status: status, Message: msg, Fault: status >= 500}
}

// ValidationError builds the 400 ValidationException used for malformed requests. The code is the one every IVS
// model declares.
func ValidationError(format string, args ...any) *Error {
	return NewError("ValidationException", http.StatusBadRequest, format, args...)
}

// Time is a timestamp member: encoded as RFC 3339 in UTC with second precision ("2020-05-05T21:55:38Z"), as IVS
// does; decoded from RFC 3339 (any precision or offset) or from epoch seconds.
type Time struct{ time.Time }

// NewTime returns a *Time for t.
func NewTime(t time.Time) *Time { return &Time{t} }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 22)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	return append(b, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		v, err := time.Parse(time.RFC3339Nano, strings.Trim(s, `"`))
		if err != nil {
			return fmt.Errorf("timestamp %s is not RFC 3339", s)
		}
		t.Time = v.UTC()
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("timestamp %s is neither RFC 3339 nor epoch seconds", s)
	}
	t.Time = time.Unix(0, int64(f*1e9)).UTC()
	return nil
}

// IsZero reports whether the time is unset (used by the omitzero JSON option).
func (t Time) IsZero() bool { return t.Time.IsZero() }

// Validator collects constraint violations in the AWS (Coral) message style:
// "1 validation error detected: Value 'x' at 'name' failed to satisfy constraint: Member must ...".
type Validator struct {
	msgs   []string
	redact bool
}

// Redact hides values in the messages that follow (for members the model marks sensitive) until called with false.
func (v *Validator) Redact(on bool) { v.redact = on }

// Err returns nil or a ValidationException listing every violation.
func (v *Validator) Err() error {
	if len(v.msgs) == 0 {
		return nil
	}
	noun := "error"
	if len(v.msgs) > 1 {
		noun = "errors"
	}
	return ValidationError("%d validation %s detected: %s", len(v.msgs), noun, strings.Join(v.msgs, "; "))
}

// Fail records a violation for the field at path.
func (v *Validator) Fail(value, path, constraint string) {
	if v.redact && value != "null" {
		value = "'*** Sensitive Data Redacted ***'"
	}
	v.msgs = append(v.msgs, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: Member must %s", value, path, constraint))
}

// Required records a missing required member.
func (v *Validator) Required(path string) {
	v.Fail("null", path, "not be null")
}

// StrLen checks a string's length in characters.
func (v *Validator) StrLen(path, s string, min, max int64) {
	n := int64(utf8.RuneCountInString(s))
	if min >= 0 && n < min {
		v.Fail(quote(s), path, fmt.Sprintf("have length greater than or equal to %d", min))
	}
	if max >= 0 && n > max {
		v.Fail(quote(s), path, fmt.Sprintf("have length less than or equal to %d", max))
	}
}

// Pattern checks a string against a model pattern (matched in full).
func (v *Validator) Pattern(path, s string, re interface{ MatchString(string) bool }, pattern string) {
	if !re.MatchString(s) {
		v.Fail(quote(s), path, "satisfy regular expression pattern: "+pattern)
	}
}

// Enum checks a string against an enum's values.
func (v *Validator) Enum(path, s string, values []string) {
	for _, x := range values {
		if s == x {
			return
		}
	}
	v.Fail(quote(s), path, "satisfy enum value set: ["+strings.Join(values, ", ")+"]")
}

// Range checks a number.
func (v *Validator) Range(path string, n int64, min, max *int64) {
	if min != nil && n < *min {
		v.Fail(quote(strconv.FormatInt(n, 10)), path, fmt.Sprintf("have value greater than or equal to %d", *min))
	}
	if max != nil && n > *max {
		v.Fail(quote(strconv.FormatInt(n, 10)), path, fmt.Sprintf("have value less than or equal to %d", *max))
	}
}

// RangeFloat checks a floating-point number.
func (v *Validator) RangeFloat(path string, n float64, min, max *float64) {
	if min != nil && n < *min {
		v.Fail(quote(strconv.FormatFloat(n, 'g', -1, 64)), path, fmt.Sprintf("have value greater than or equal to %g", *min))
	}
	if max != nil && n > *max {
		v.Fail(quote(strconv.FormatFloat(n, 'g', -1, 64)), path, fmt.Sprintf("have value less than or equal to %g", *max))
	}
}

// Size checks the number of items of a list or map.
func (v *Validator) Size(path string, n int, min, max int64) {
	if min >= 0 && int64(n) < min {
		v.Fail(fmt.Sprintf("with %d items", n), path, fmt.Sprintf("have length greater than or equal to %d", min))
	}
	if max >= 0 && int64(n) > max {
		v.Fail(fmt.Sprintf("with %d items", n), path, fmt.Sprintf("have length less than or equal to %d", max))
	}
}

// Path joins a member name onto a parent path.
func Path(parent, member string) string {
	if parent == "" {
		return member
	}
	return parent + "." + member
}

// Index names a list item.
func Index(parent string, i int) string { return parent + "." + strconv.Itoa(i+1) + ".member" }

// Key names a map entry.
func Key(parent, k string) string { return parent + "." + k }

func quote(s string) string {
	if len(s) > 256 {
		s = s[:256] + "..."
	}
	return "'" + strings.ReplaceAll(s, "'", "\\'") + "'"
}

// Int64 returns a pointer to n (for generated range bounds).
func Int64(n int64) *int64 { return &n }

// Float64 returns a pointer to f (for generated range bounds).
func Float64(f float64) *float64 { return &f }
