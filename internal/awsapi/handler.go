// Package awsapi is the AWS REST-JSON protocol, independent of any service: it routes requests to the operations
// of one or more services (internal/spec builds them from the models), authenticates them, decodes and binds the
// input, validates it against the model, calls the provider and encodes the output or a modelled error with the
// headers AWS clients expect (x-amzn-RequestId, x-amzn-ErrorType), honouring Accept-Encoding: gzip, and answering
// CORS preflights so browser SDKs work.
package awsapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"
)

// MaxBodyBytes bounds a request body. The largest legitimate IVS request (a public key, or 50 tags) is far smaller.
const MaxBodyBytes = 1 << 20

// Caller is who made a request: the account and region it acts in.
type Caller struct {
	AccountID   string
	Region      string
	AccessKeyID string
	RequestID   string
}

type callerKey struct{}

// WithCaller returns a context carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller of the request being served.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Authenticator decides who a request comes from. body is the whole request body.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (Caller, error)
}

// Service is a set of operations served together; a request to a shared path (the tag operations) goes to the
// service whose Owns accepts the resource ARN.
type Service struct {
	Name       string
	Operations []Operation
	// Owns reports whether a resource ARN (from the tag operations' URI) belongs to this service; nil owns all.
	Owns func(arn string) bool
}

type route struct {
	svc  *Service
	op   *Operation
	segs []string // path template split on '/'
}

// Handler serves the operations of its services.
type Handler struct {
	routes map[string][]*route // method + " " + literal path, for templates without parameters
	params map[string][]*route // method, templates with parameters
	auth   Authenticator
	log    *slog.Logger
	now    func() time.Time
}

// NewHandler builds the handler for services.
func NewHandler(auth Authenticator, log *slog.Logger, services ...*Service) (*Handler, error) {
	h := &Handler{routes: map[string][]*route{}, params: map[string][]*route{}, auth: auth, log: log, now: time.Now}
	for _, svc := range services {
		for i := range svc.Operations {
			op := &svc.Operations[i]
			rt := &route{svc: svc, op: op, segs: strings.Split(strings.TrimPrefix(op.Path, "/"), "/")}
			if strings.Contains(op.Path, "{") {
				h.params[op.Method] = append(h.params[op.Method], rt)
			} else {
				h.routes[op.Method+" "+op.Path] = append(h.routes[op.Method+" "+op.Path], rt)
			}
		}
	}
	for k, rs := range h.routes {
		if len(rs) > 1 {
			return nil, fmt.Errorf("awsapi: %s is served by two services (%s, %s)", k, rs[0].svc.Name, rs[1].svc.Name)
		}
	}
	return h, nil
}

// match finds the route for a request, with its path parameters.
func (h *Handler) match(r *http.Request) (*route, map[string]string, error) {
	if rs, ok := h.routes[r.Method+" "+r.URL.Path]; ok {
		return rs[0], nil, nil
	}
	raw := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	var found []*route
	var foundParams []map[string]string
	for _, rt := range h.params[r.Method] {
		if len(rt.segs) != len(raw) {
			continue
		}
		ps := map[string]string{}
		ok := true
		for i, seg := range rt.segs {
			if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
				v, err := url.PathUnescape(raw[i])
				if err != nil {
					return nil, nil, ValidationError("malformed URI path segment %q", raw[i])
				}
				ps[strings.Trim(seg, "{}+")] = v
			} else if seg != raw[i] {
				ok = false
				break
			}
		}
		if ok {
			found = append(found, rt)
			foundParams = append(foundParams, ps)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil, nil
	case 1:
		return found[0], foundParams[0], nil
	}
	// Shared path: pick the service that owns the resource.
	for i, rt := range found {
		if arn, ok := foundParams[i]["resourceArn"]; ok && (rt.svc.Owns == nil || rt.svc.Owns(arn)) {
			return rt, foundParams[i], nil
		}
	}
	return found[0], foundParams[0], nil
}

var corsAllowHeaders = "authorization, content-type, x-amz-date, x-amz-security-token, x-amz-user-agent, x-amz-content-sha256, " +
	"amz-sdk-invocation-id, amz-sdk-request, x-amz-target, content-encoding, accept, accept-encoding"

const corsExposeHeaders = "x-amzn-RequestId, x-amzn-ErrorType, x-amzn-ErrorMessage, Date"

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	reqID := newRequestID()
	hdr := w.Header()
	hdr["X-Amzn-Requestid"] = []string{reqID}
	hdr["Access-Control-Allow-Origin"] = []string{"*"}
	hdr["Access-Control-Expose-Headers"] = []string{corsExposeHeaders}
	hdr["Cache-Control"] = []string{"no-store"}
	hdr["X-Content-Type-Options"] = []string{"nosniff"}
	hdr["X-Frame-Options"] = []string{"DENY"}
	hdr["Content-Security-Policy"] = []string{"default-src 'none'"}

	if r.Method == http.MethodOptions {
		hdr.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		hdr.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusOK)
		return
	}
	opName := "-"
	status, err := h.serve(w, r, reqID, &opName)
	if err != nil {
		status = h.writeError(w, r, err)
	}
	h.log.LogAttrs(r.Context(), levelFor(status), "api request",
		slog.String("op", opName), slog.Int("status", status), slog.String("request_id", reqID),
		slog.Duration("took", h.now().Sub(start)))
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelDebug
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, reqID string, opName *string) (int, error) {
	rt, params, err := h.match(r)
	if err != nil {
		return 0, err
	}
	if rt == nil {
		return 0, &Error{Code: "UnknownOperationException", Status: http.StatusNotFound,
			Message: fmt.Sprintf("no operation is served at %s %s", r.Method, r.URL.Path)}
	}
	op := rt.op
	*opName = op.Name
	body, err := readBody(r)
	if err != nil {
		return 0, err
	}
	caller, err := h.auth.Authenticate(r, body)
	if err != nil {
		return 0, err
	}
	caller.RequestID = reqID
	in := op.NewInput()
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeJSON(body, in); err != nil {
			return 0, err
		}
	}
	if pb, ok := in.(ParamBinder); ok {
		if err := pb.BindParams(&Params{Path: params, Query: r.URL.Query(), Header: r.Header}); err != nil {
			return 0, err
		}
	}
	if err := in.Validate(); err != nil {
		return 0, err
	}
	ctx := WithCaller(r.Context(), caller)
	out, err := op.Invoke(ctx, in)
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) && !modelled(op, ae.Code) {
			h.log.Warn("provider returned an error the model does not list", "op", op.Name, "code", ae.Code)
		}
		return 0, err
	}
	return h.writeOutput(w, r, op.Status, out)
}

func modelled(op *Operation, code string) bool {
	for _, c := range op.Errors {
		if c == code {
			return true
		}
	}
	return false
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var src io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, ValidationError("request body is not valid gzip")
		}
		defer zr.Close()
		src = zr
	}
	body, err := io.ReadAll(io.LimitReader(src, MaxBodyBytes+1))
	if err != nil {
		return nil, ValidationError("could not read the request body")
	}
	if len(body) > MaxBodyBytes {
		return nil, ValidationError("request body exceeds %d bytes", MaxBodyBytes)
	}
	return body, nil
}

// decodeJSON decodes one JSON object into in; malformed JSON or a member of the wrong type is a ValidationException.
func decodeJSON(body []byte, in any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				return ValidationError("the request body must be a JSON object")
			}
			return ValidationError("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must be of type %s", field, jsonKind(te.Type))
		}
		return ValidationError("the request body is not valid JSON: %s", sanitizeJSONError(err))
	}
	if dec.More() {
		return ValidationError("the request body is not valid JSON: unexpected data after the top-level object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return ValidationError("the request body is not valid JSON: unexpected data after the top-level object")
	}
	return nil
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int64, reflect.Int, reflect.Int32:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list"
	case reflect.Map:
		return "map"
	}
	if t == reflect.TypeOf(Time{}) {
		return "timestamp"
	}
	return "structure"
}

func sanitizeJSONError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

type headerWriter interface{ WriteHeaders(http.Header) }

func (h *Handler) writeOutput(w http.ResponseWriter, r *http.Request, status int, out any) (int, error) {
	if out == nil || status == http.StatusNoContent {
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return status, nil
		}
		return writeBody(w, r, status, []byte("{}")), nil
	}
	if hw, ok := out.(headerWriter); ok {
		hw.WriteHeaders(w.Header())
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); bufPool.Put(buf) }()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return 0, fmt.Errorf("awsapi: encode output: %w", err)
	}
	b := buf.Bytes()
	return writeBody(w, r, status, b[:len(b)-1]), nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

var gzPool = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte) int {
	hdr := w.Header()
	hdr["Content-Type"] = []string{"application/json"}
	if acceptsGzip(r) {
		hdr["Content-Encoding"] = []string{"gzip"}
		hdr["Vary"] = []string{"Accept-Encoding"}
		w.WriteHeader(status)
		zw := gzPool.Get().(*gzip.Writer)
		zw.Reset(w)
		zw.Write(body)
		zw.Close()
		gzPool.Put(zw)
		return status
	}
	w.WriteHeader(status)
	w.Write(body)
	return status
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) int {
	var ae *Error
	if !errors.As(err, &ae) {
		h.log.Error("api request failed", "err", err)
		ae = &Error{Code: "InternalServerException", Status: http.StatusInternalServerError,
			Message: "Unexpected error during processing of request.", Fault: true}
	}
	w.Header()["X-Amzn-Errortype"] = []string{ae.Code}
	body, _ := json.Marshal(struct {
		ExceptionMessage string `json:"exceptionMessage"`
		Message          string `json:"message"`
	}{ae.Message, ae.Message})
	return writeBody(w, r, ae.Status, body)
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
