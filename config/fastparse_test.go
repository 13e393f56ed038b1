package config

import (
	"reflect"
	"strings"
	"testing"
)

// agreeWithGrammar checks that fastParse accepts src exactly when the
// participle grammar does, and then returns the same entries.
func agreeWithGrammar(t *testing.T, src string) {
	t.Helper()
	fast, ok := fastParse("t.conf", src)
	want, err := grammarParse("t.conf", src)
	switch {
	case ok && err != nil:
		t.Fatalf("fastParse accepts what the grammar rejects (%v):\n%q", err, src)
	case !ok && err == nil:
		t.Fatalf("fastParse rejects what the grammar accepts:\n%q", src)
	case ok && !reflect.DeepEqual(fast, want):
		t.Fatalf("fastParse and the grammar disagree on\n%q\nfast: %s\ngrammar: %s", src, dumpEntries(fast), dumpEntries(want))
	}
}

func dumpEntries(es []*Entry) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(strings.Join([]string{
			e.Pos.String(), e.Key, e.Name, formatValue(e.Value)}, " ")), "\n", " "))
		if e.Body != nil {
			b.WriteString(" {" + dumpEntries(e.Body) + "}")
		}
		b.WriteString("; ")
	}
	return b.String()
}

func TestFastParseMatchesGrammar(t *testing.T) {
	tests := []string{
		"", "   \n# only a comment\n", "/* x */",
		"a = b", "a b", "a=b", "a = b c = d", "a\nb\nc = d",
		"a = \"x \\\" y\"", "a = 'q'", `a = ""`, "a = \"\\\\\"",
		"a = /var/x/ b = digest:///x c = *:25 d = 0640",
		"a = ( )", "a = ( x )", "a = ( x, \"y z\", w )", "a = (x,y,z)", "a = ( x ,, y )", "a = ( x",
		"a = ( ( ) )", "a = ( [ ] )",
		"a = [ ]", `a = [ k = "v" k2 = v2 ]`, `a = [ k "v", k2 v2 ]`, "a = [ k = ]", "a = [ k ]", "a = [ k = v",
		"S {}", "S { }", "S = { a = b }", "S { a = b } T { c = d }", `D "n" { a = b }`, "D n {}",
		`D "n" = {}`, "D ( x ) {}", "D [ k = v ] {}", `A { B "x" { C { d = e } } }`,
		"S {", "S { a = b", "S { a }", "}", "{", "= x", "a = = b", "a = b }", ")", "a = )", ",",
		"a", "a =", "a = {", `include "x.conf"`, `READONLY_include 'y'`, "include { }",
		"a = \"unterminated", "a = 'also", "a = b /* unterminated", "a = \"\\", "a = b\r\nc = d\r\n",
		"a = x/*c*/y", "a#c\n= b", "a = \"line\nbreak\"", "\ta\t=\tb\t",
		fallbackConf,
	}
	for _, src := range tests {
		t.Run(src, func(t *testing.T) { agreeWithGrammar(t, src) })
	}
}

// TestFastParseIsUsed checks that valid text takes the fast path: were it
// to reject something the grammar accepts, parsing would stay correct but
// slow, which TestFastParseMatchesGrammar reports too.
func TestFastParseIsUsed(t *testing.T) {
	if _, ok := fastParse("bench.conf", benchConfig()); !ok {
		t.Fatal("fastParse rejects the benchmark configuration")
	}
}

// FuzzFastParse holds fastParse to the grammar on arbitrary text.
func FuzzFastParse(f *testing.F) {
	for _, seed := range []string{
		fallbackConf, "a = b", "S { a = ( x, \"y\" ) d = [ k = v ] }", `D "n" = { }`,
		"a = [ k ]", "a", "}{)(][,=", "a = 'it\\'s' # c\n", "/* x", "a = ( x ,, y )",
	} {
		f.Add(seed)
	}
	f.Fuzz(agreeWithGrammar)
}
