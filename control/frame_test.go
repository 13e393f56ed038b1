package control

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestReplyRoundTrip(t *testing.T) {
	large := strings.Repeat("0123456789abcdef\n", 1<<16) // 1 MiB, many lines
	cases := []struct {
		name string
		ok   bool
		body string
	}{
		{"empty ok", true, ""},
		{"empty err", false, ""},
		{"one line", true, "4.0.1\n"},
		{"no final newline", true, "12345"},
		{"multi-line", true, "Summary Statistics\n  Uptime: 5\n\n  Messages: 0\n"},
		{"multi-line error", false, "Reconfigure failed\nfile.conf:3:1: unknown option\n"},
		{"body that looks like headers", true, "OK 3\nERR 0\n\n"},
		{"binary", true, "\x00\xff\r\n\x01"},
		{"large", true, large},
	}
	var stream bytes.Buffer
	for _, c := range cases {
		if err := writeReply(&stream, c.ok, c.body); err != nil {
			t.Fatal(err)
		}
	}
	// All frames back to back in one stream: each must end exactly where the next begins.
	br := bufio.NewReader(&stream)
	for _, c := range cases {
		ok, body, err := readReply(br, MaxReplyBody)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if ok != c.ok || body != c.body {
			t.Errorf("%s: got ok=%v body %q..., want ok=%v", c.name, ok, truncate(body, 30), c.ok)
		}
	}
	if _, _, err := readReply(br, MaxReplyBody); !errors.Is(err, io.EOF) {
		t.Errorf("after the last frame: err = %v, want EOF", err)
	}
}

func TestReadReplyBad(t *testing.T) {
	cases := []struct {
		name, in string
		want     error
	}{
		{"no length", "OK\n", ErrProtocol},
		{"negative", "OK -1\n", ErrProtocol},
		{"leading zero", "OK 01\nx", ErrProtocol},
		{"plus sign", "OK +1\nx", ErrProtocol},
		{"unknown word", "MAYBE 1\nx", ErrProtocol},
		{"lower case", "ok 0\n", ErrProtocol},
		{"over limit", "OK 101\n", ErrProtocol},
		{"short body", "OK 5\nab", io.ErrUnexpectedEOF},
		{"header without newline", "OK 5", io.ErrUnexpectedEOF},
		{"header too long", "OK " + strings.Repeat("1", 300) + "\n", ErrProtocol},
	}
	for _, c := range cases {
		_, _, err := readReply(bufio.NewReader(strings.NewReader(c.in)), 100)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestReadLine(t *testing.T) {
	const limit = 100
	cases := []struct {
		name, in, want string
		err            error
	}{
		{"plain", "version\n", "version", nil},
		{"crlf", "version\r\n", "version", nil},
		{"empty", "\n", "", nil},
		{"exactly the limit", strings.Repeat("a", limit-1) + "\n", strings.Repeat("a", limit-1), nil},
		{"one over the limit", strings.Repeat("a", limit) + "\n", "", ErrLineTooLong},
		{"far over the limit", strings.Repeat("a", 10*limit), "", ErrLineTooLong},
		{"eof mid-line", "vers", "", io.ErrUnexpectedEOF},
		{"eof", "", "", io.EOF},
	}
	for _, c := range cases {
		// A 16-byte buffer makes long lines span several reads.
		got, err := readLine(bufio.NewReaderSize(strings.NewReader(c.in), 16), limit)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("%s: got %q, %v; want %q, %v", c.name, got, err, c.want, c.err)
		}
	}
}

func TestSplitWords(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "", want: nil},
		{in: "   \t ", want: nil},
		{in: "version", want: []string{"version"}},
		{in: "  config   reload\t/etc/x.conf ", want: []string{"config", "reload", "/etc/x.conf"}},
		{in: `config set Relay_Hosts "a b"`, want: []string{"config", "set", "Relay_Hosts", "a b"}},
		{in: `say ""`, want: []string{"say", ""}},
		{in: `a"b c"d`, want: []string{"ab cd"}},
		{in: `"with \"quotes\" and \\"`, want: []string{`with "quotes" and \`}},
		{in: `locate scope ^a\d+$`, want: []string{"locate", "scope", `^a\d+$`}},
		{in: `"unterminated`, err: true},
		{in: `ends in backslash "\`, err: true},
		{in: "new\nline", err: true},
		{in: "\"quoted\nnewline\"", err: true},
		{in: "carriage\rreturn", err: true},
		{in: "\"escaped \\\r\"", err: true},
	}
	for _, c := range cases {
		got, err := SplitWords(c.in)
		if c.err {
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("SplitWords(%q): err = %v, want ErrSyntax", c.in, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestJoinWordsRoundTrip(t *testing.T) {
	cases := [][]string{
		{"version"},
		{"config", "set", "x", "a b"},
		{"", "", "x"},
		{`"`, `\`, `\"`, `a\b`, "tab\there"},
	}
	for _, words := range cases {
		line, err := JoinWords(words)
		if err != nil {
			t.Fatalf("JoinWords(%q): %v", words, err)
		}
		got, err := SplitWords(line)
		if err != nil || !slices.Equal(got, words) {
			t.Errorf("SplitWords(JoinWords(%q)) = %q, %v (line %s)", words, got, err, line)
		}
	}
	if _, err := JoinWords([]string{"a\nb"}); !errors.Is(err, ErrSyntax) {
		t.Errorf("JoinWords with a newline: err = %v, want ErrSyntax", err)
	}
}

// FuzzSplitWords checks that any line SplitWords accepts survives a JoinWords round trip
// and that nothing makes it panic.
func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{"", "version", `a "b c" d`, `"x\"y"`, `a""b`, `\`, `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words, err := SplitWords(line)
		if err != nil {
			return
		}
		joined, err := JoinWords(words)
		if err != nil {
			t.Fatalf("JoinWords(%q): %v", words, err)
		}
		again, err := SplitWords(joined)
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("round trip of %q: %q -> %q -> %q (%v)", line, words, joined, again, err)
		}
	})
}
