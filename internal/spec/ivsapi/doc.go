// Package ivsapi is the Amazon IVS low-latency API (model ivs/2020-07-14) as Go types, validators and an
// operation table, generated from the documentation-stripped model in internal/spec/models.
//
// To import a new botocore model version:
//
//	go run ./internal/spec/gen strip -in .../botocore/data/ivs/2020-07-14/service-2.json.gz -out internal/spec/models/ivs-2020-07-14.json
//	go generate ./internal/spec/...
package ivsapi

//go:generate go run ../gen gen -model ../models/ivs-2020-07-14.json -overrides ../models/ivs-2020-07-14.overrides.json -pkg ivsapi -out zz_generated.go
