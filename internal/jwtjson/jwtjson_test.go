package jwtjson

import (
	"testing"
	"time"
)

func TestObjectFieldsAndDates(t *testing.T) {
	f, err := ObjectFields([]byte(`{"exp":1700000000.5,"a":null,"b":"x"}`))
	if err != nil || len(f) != 3 || !IsNull(f["a"]) {
		t.Fatalf("%v %v", f, err)
	}
	d, ok, err := DateClaim(f, "exp")
	if err != nil || !ok || !d.Equal(time.Unix(1700000000, 500000000)) {
		t.Errorf("exp: %v %v %v", d, ok, err)
	}
	if _, ok, err := DateClaim(f, "a"); ok || err != nil {
		t.Error("null date is not absent")
	}
	if _, _, err := DateClaim(f, "b"); err == nil {
		t.Error("a string accepted as a date")
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `[1]`, `{"a":1} {}`, `{"a":`, `{"exp":1e400}`} {
		f, err := ObjectFields([]byte(bad))
		if err == nil {
			if _, _, err = DateClaim(f, "exp"); err == nil {
				t.Errorf("%s accepted", bad)
			}
		}
	}
	var r RawPayload
	if err := r.UnmarshalJSON([]byte(`{"x":1}`)); err != nil || string(r.B) != `{"x":1}` {
		t.Errorf("RawPayload kept %q", r.B)
	}
}
