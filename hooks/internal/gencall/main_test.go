package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGeneratedUpToDate fails when call_arity.go differs from what the
// generator writes: someone edited the output, or the generator without
// running go generate.
func TestGeneratedUpToDate(t *testing.T) {
	want, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../call_arity.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("call_arity.go is stale: run go generate in the hooks directory")
	}
}
