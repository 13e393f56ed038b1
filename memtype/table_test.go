package memtype

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// tableRegistry builds a registry with known counters: two fixed types and two
// variable ones, one of which holds a block mapped on its own.
func tableRegistry(t *testing.T) *Registry {
	t.Helper()
	r, _ := newTestRegistry(t, Options{})
	sess, _ := NewFixed[session](r, "esmtp:session")
	objs := []*session{sess.Get(), sess.Get(), sess.Get()}
	sess.Put(objs[0])
	if _, err := r.Register(Spec{Name: "ds_core:datasource", Size: 512}); err != nil {
		t.Fatal(err)
	}
	str, _ := r.Register(Spec{Name: "string"})
	b, _ := str.Alloc(1000)
	str.Alloc(24)
	str.Free(b)
	lua, _ := r.Register(Spec{Name: "scriptlet:lua"})
	lua.AllocRaw(100_000)
	lua.AllocRaw(300_000)
	p, _ := lua.AllocRaw(40_000)
	lua.AllocRaw(100)
	lua.FreeRaw(p)
	return r
}

const wantTable = `                   memory type | buf size | active objects | peak objects | allocd objects | current bytes
-------------------------------+----------+----------------+--------------+----------------+--------------
            ds_core:datasource |      512 |              0 |            0 |              0 |             0
                 esmtp:session |       64 |              2 |            3 |              3 |           128
-------------------------------+----------+----------------+--------------+----------------+--------------
                         total |          |                |              |                |           128

                   memory type | current bytes | peak bytes | mmap count/peak/current %
-------------------------------+---------------+------------+--------------------------
                 scriptlet:lua |        400100 |     440100 |                2/3/100.0%
                        string |            24 |       1024 |                  0/0/0.0%
-------------------------------+---------------+------------+--------------------------
                         total |        400124
`

func TestWriteMemory(t *testing.T) {
	r := tableRegistry(t)
	var buf bytes.Buffer
	if err := r.WriteMemory(&buf, ""); err != nil {
		t.Fatal(err)
	}
	if buf.String() != wantTable {
		t.Errorf("memory table:\n%s\nwant:\n%s", buf.String(), wantTable)
	}
}

func TestWriteMemoryOneType(t *testing.T) {
	r := tableRegistry(t)
	tests := []struct {
		name    string
		want    string
		wantErr error
	}{
		{name: "string", want: `                   memory type | current bytes | peak bytes | mmap count/peak/current %
-------------------------------+---------------+------------+--------------------------
                        string |            24 |       1024 |                  0/0/0.0%
-------------------------------+---------------+------------+--------------------------
                         total |            24
`},
		{name: "esmtp:session", want: `                   memory type | buf size | active objects | peak objects | allocd objects | current bytes
-------------------------------+----------+----------------+--------------+----------------+--------------
                 esmtp:session |       64 |              2 |            3 |              3 |           128
-------------------------------+----------+----------------+--------------+----------------+--------------
                         total |          |                |              |                |           128
`},
		{name: "no:such", wantErr: ErrNoType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := r.WriteMemory(&buf, tc.name)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if buf.String() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", buf.String(), tc.want)
			}
		})
	}
}

func TestWriteTableEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, nil); err != nil || buf.Len() != 0 {
		t.Errorf("empty table wrote %q, %v; want nothing", buf.String(), err)
	}
}

func TestWriteTableLongName(t *testing.T) {
	long := "a_module_with_a_long_name:and_a_long_description"
	var buf bytes.Buffer
	WriteTable(&buf, []Stats{{Name: long, Kind: Variable, Bytes: 1}})
	pad := func(s string) string { return strings.Repeat(" ", len(long)-len(s)) + s }
	rule := strings.Repeat("-", len(long)) + "-+---------------+------------+--------------------------\n"
	want := pad("memory type") + " | current bytes | peak bytes | mmap count/peak/current %\n" +
		rule +
		long + " |             1 |          0 |                  0/0/0.0%\n" +
		rule +
		pad("total") + " |             1\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}
