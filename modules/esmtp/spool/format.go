package spool

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"time"
)

// Envelope is what the listener knows of a message besides its body.
type Envelope struct {
	ID       string
	Received time.Time
	// Peer is the client's address ("ip:port").
	Peer string
	// Helo is the HELO/EHLO argument.
	Helo string
	// MailFrom is the reverse-path, "" for the null sender.
	MailFrom string
	// Rcpts are the forward-paths, in the order they were accepted.
	Rcpts []string
	// Binding is the binding chosen by the set_binding phase ("default" when
	// none).
	Binding string
}

// trailer layout: "\nECSPOOL1 " + 16 hex body length + " " + 8 hex envelope
// length + " " + 8 hex CRC-32 (IEEE) of body and envelope + "\n".
const (
	trailerMagic = "\nECSPOOL1 "
	trailerLen   = len(trailerMagic) + 16 + 1 + 8 + 1 + 8 + 1
)

// appendEnvelope encodes env, one "key value" line per field. Values are
// escaped so that a line break inside one cannot forge a field.
func appendEnvelope(dst []byte, env *Envelope) []byte {
	field := func(k, v string) {
		dst = append(dst, k...)
		dst = append(dst, ' ')
		dst = appendEscaped(dst, v)
		dst = append(dst, '\n')
	}
	field("id", env.ID)
	// Digits need no escaping: appended in place, not through a string.
	dst = append(dst, "received "...)
	dst = strconv.AppendInt(dst, env.Received.UnixNano(), 10)
	dst = append(dst, '\n')
	field("peer", env.Peer)
	field("helo", env.Helo)
	field("from", env.MailFrom)
	field("binding", env.Binding)
	for _, r := range env.Rcpts {
		field("rcpt", r)
	}
	return dst
}

func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func parseEnvelope(b []byte) (*Envelope, error) {
	env := &Envelope{}
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		k, v, ok := strings.Cut(string(line), " ")
		if !ok {
			return nil, fmt.Errorf("%w: envelope line %q", ErrCorrupt, line)
		}
		v = unescape(v)
		switch k {
		case "id":
			env.ID = v
		case "received":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: received %q", ErrCorrupt, v)
			}
			env.Received = time.Unix(0, n)
		case "peer":
			env.Peer = v
		case "helo":
			env.Helo = v
		case "from":
			env.MailFrom = v
		case "binding":
			env.Binding = v
		case "rcpt":
			env.Rcpts = append(env.Rcpts, v)
		default:
			return nil, fmt.Errorf("%w: envelope field %q", ErrCorrupt, k)
		}
	}
	if env.ID == "" || len(env.Rcpts) == 0 {
		return nil, fmt.Errorf("%w: envelope without id or recipients", ErrCorrupt)
	}
	return env, nil
}

func appendTrailer(dst []byte, bodyLen int64, envLen int, crc uint32) []byte {
	dst = append(dst, trailerMagic...)
	dst = appendHex(dst, uint64(bodyLen), 16)
	dst = append(dst, ' ')
	dst = appendHex(dst, uint64(envLen), 8)
	dst = append(dst, ' ')
	dst = appendHex(dst, uint64(crc), 8)
	return append(dst, '\n')
}

func appendHex(dst []byte, v uint64, width int) []byte {
	var b [16]byte
	for i := width - 1; i >= 0; i-- {
		b[i] = "0123456789abcdef"[v&0xf]
		v >>= 4
	}
	return append(dst, b[:width]...)
}

// parseTrailer returns the body length, envelope length and CRC a trailer
// records.
func parseTrailer(t []byte) (bodyLen int64, envLen int, crc uint32, err error) {
	if len(t) != trailerLen || string(t[:len(trailerMagic)]) != trailerMagic || t[len(t)-1] != '\n' {
		return 0, 0, 0, fmt.Errorf("%w: no trailer", ErrCorrupt)
	}
	f := strings.Fields(string(t[len(trailerMagic) : len(t)-1]))
	if len(f) != 3 {
		return 0, 0, 0, fmt.Errorf("%w: trailer fields", ErrCorrupt)
	}
	var v [3]uint64
	for i, s := range f {
		raw, err := hex.DecodeString(s)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%w: trailer %q", ErrCorrupt, s)
		}
		for _, c := range raw {
			v[i] = v[i]<<8 | uint64(c)
		}
	}
	return int64(v[0]), int(v[1]), uint32(v[2]), nil
}

// decodeFile checks a whole spool file and splits it.
func decodeFile(data []byte) (*Envelope, []byte, error) {
	if len(data) < trailerLen {
		return nil, nil, fmt.Errorf("%w: %d bytes is shorter than a trailer", ErrCorrupt, len(data))
	}
	bodyLen, envLen, crc, err := parseTrailer(data[len(data)-trailerLen:])
	if err != nil {
		return nil, nil, err
	}
	content := data[:len(data)-trailerLen]
	if bodyLen < 0 || int64(len(content)) != bodyLen+int64(envLen) {
		return nil, nil, fmt.Errorf("%w: lengths %d+%d do not match %d bytes", ErrCorrupt, bodyLen, envLen, len(content))
	}
	if crc32.ChecksumIEEE(content) != crc {
		return nil, nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	env, err := parseEnvelope(content[bodyLen:])
	if err != nil {
		return nil, nil, err
	}
	return env, content[:bodyLen], nil
}
