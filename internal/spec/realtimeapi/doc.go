// Package realtimeapi is the Amazon IVS real-time API (model ivs-realtime/2020-07-14) as Go types, validators and
// an operation table, generated from the documentation-stripped model in internal/spec/models.
package realtimeapi

//go:generate go run ../gen gen -model ../models/ivs-realtime-2020-07-14.json -overrides ../models/ivs-realtime-2020-07-14.overrides.json -pkg realtimeapi -out zz_generated.go
