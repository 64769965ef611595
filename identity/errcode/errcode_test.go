package errcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorsMatchByCode(t *testing.T) {
	r := NewRegistry("test")
	a := r.New("a_code", "a")
	b := r.New("b_code", "b")
	wire := &Error{Code: "a_code", Message: "from another node"}
	if !errors.Is(fmt.Errorf("wrapped: %w", wire), a) || errors.Is(wire, b) {
		t.Fatal("errors are not matched by code")
	}
	if got, ok := r.Lookup("b_code"); !ok || got != b {
		t.Fatal("lookup by code failed")
	}
	if c := r.Codes(); len(c) != 2 || c[0] != "a_code" {
		t.Fatalf("codes = %v", c)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a second sentinel with a code was made")
		}
	}()
	r.New("a_code", "again")
}
