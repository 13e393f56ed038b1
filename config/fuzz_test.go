package config

import (
	"testing"
)

// FuzzParse checks that no input makes the parser (or validation) panic, and
// that whatever parses prints back to text that parses to the same print.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		fallbackConf,
		"a = b",
		"S { a = ( x, \"y\" ) d = [ k = v ] }",
		"Domain \"/re/\" {}",
		"/* unterminated",
		"a = \"unterminated",
		"a = 'it\\'s' # c\n",
		"Listen /tmp/2025 { File_Mode = 0666 }",
		"uri = digest:///x",
		"S = { T \"n\" = { } }",
		"include \"nope\"",
		"a = \"\\",
		"}{)(][,=",
	} {
		f.Add(seed)
	}
	o := newTestOptions(f)
	f.Fuzz(func(t *testing.T, src string) {
		// A name with no directory: includes resolve against a directory
		// that does not contain the fuzz inputs.
		tree, err := Parse("fuzz.conf", []byte(src))
		if err != nil {
			return
		}
		printed := tree.Flatten()
		again, err := Parse("fuzz2.conf", []byte(printed))
		if err != nil {
			t.Fatalf("printed tree does not parse: %v\n%s", err, printed)
		}
		if again.Flatten() != printed {
			t.Fatalf("round trip changed:\n%s\n---\n%s", printed, again.Flatten())
		}
		if g, err := o.reg.Build(tree); err == nil {
			g.Release()
		}
	})
}
