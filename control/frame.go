package control

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxRequestLine bounds a request line, newline included. It is far above any command
// an operator types, and low enough that a peer cannot make the server buffer without
// limit.
const MaxRequestLine = 64 << 10

// MaxReplyBody bounds the reply body a Client accepts, so that a peer that is not an
// ecelerity server cannot make the console allocate without limit.
const MaxReplyBody = 256 << 20

// Greeting words; see the package comment.
const (
	greetingWord    = "EC-CONTROL"
	protocolVersion = "1"
	authWord        = "AUTH"
	okWord          = "OK"
	errWord         = "ERR"
)

// maxHeaderLine bounds a reply header or greeting line: "EC-CONTROL 1 AUTH " and 64 hex
// digits fit with room to spare.
const maxHeaderLine = 256

// readLine reads one line of at most limit bytes (newline included) and returns it
// without the newline and a trailing "\r". A longer line returns ErrLineTooLong; the
// reader is then in the middle of that line and the connection must be dropped. A final
// line without a newline is returned with io.ErrUnexpectedEOF.
func readLine(br *bufio.Reader, limit int) (string, error) {
	var long []byte // only used when the line is longer than br's buffer
	for {
		chunk, err := br.ReadSlice('\n')
		if len(long)+len(chunk) > limit {
			return "", ErrLineTooLong
		}
		switch {
		case err == nil:
			var line string
			if long == nil {
				line = string(chunk[:len(chunk)-1])
			} else {
				line = string(append(long, chunk[:len(chunk)-1]...))
			}
			return strings.TrimSuffix(line, "\r"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			long = append(long, chunk...)
		case errors.Is(err, io.EOF) && len(long)+len(chunk) > 0:
			return "", io.ErrUnexpectedEOF
		default:
			return "", err
		}
	}
}

// SplitWords splits a request line into words by the rules in the package comment.
// An unterminated quote returns an error wrapping ErrSyntax.
func SplitWords(line string) ([]string, error) {
	if strings.ContainsAny(line, "\r\n") {
		// Not even quoted or escaped: JoinWords could not write the word back.
		return nil, fmt.Errorf("%w: newline inside a request", ErrSyntax)
	}
	var (
		words   []string
		word    strings.Builder
		inWord  bool // a word has started, possibly with an empty quoted part
		inQuote bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(line):
			i++
			word.WriteByte(line[i])
		case inQuote && c == '"':
			inQuote = false
		case inQuote:
			word.WriteByte(c)
		case c == '"':
			inQuote, inWord = true, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("%w: unterminated quote", ErrSyntax)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// Quote returns word written so that SplitWords reads it back as one word: unchanged
// when it holds no space, tab or double quote and is not empty, else in double quotes
// with `"` and `\` escaped. A newline cannot be carried in a request at all; callers
// reject it (JoinWords does).
func Quote(word string) string {
	if word != "" && !strings.ContainsAny(word, " \t\"") {
		return word
	}
	var b strings.Builder
	b.Grow(len(word) + 2)
	b.WriteByte('"')
	for i := 0; i < len(word); i++ {
		if word[i] == '"' || word[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(word[i])
	}
	b.WriteByte('"')
	return b.String()
}

// JoinWords quotes each word and joins them into a request line. A word holding a
// newline returns an error wrapping ErrSyntax.
func JoinWords(words []string) (string, error) {
	quoted := make([]string, len(words))
	for i, w := range words {
		if strings.ContainsAny(w, "\r\n") {
			return "", fmt.Errorf("%w: newline in word %d", ErrSyntax, i+1)
		}
		quoted[i] = Quote(w)
	}
	return strings.Join(quoted, " "), nil
}

// writeReply writes one reply frame: an OK header with the output, or an ERR header
// with the error text.
func writeReply(w io.Writer, ok bool, body string) error {
	word := errWord
	if ok {
		word = okWord
	}
	// One buffer and one write per reply: small replies leave in a single segment.
	buf := make([]byte, 0, len(word)+12+len(body))
	buf = append(buf, word...)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(len(body)), 10)
	buf = append(buf, '\n')
	buf = append(buf, body...)
	_, err := w.Write(buf)
	return err
}

// readReply reads one reply frame and reports whether it was OK. Bodies longer than
// limit are refused with ErrProtocol without being read.
func readReply(br *bufio.Reader, limit int) (ok bool, body string, err error) {
	header, err := readLine(br, maxHeaderLine)
	if err != nil {
		if errors.Is(err, ErrLineTooLong) {
			return false, "", fmt.Errorf("%w: reply header too long", ErrProtocol)
		}
		return false, "", err
	}
	word, count, found := strings.Cut(header, " ")
	if !found || (word != okWord && word != errWord) {
		return false, "", fmt.Errorf("%w: bad reply header %q", ErrProtocol, header)
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 || count != strconv.Itoa(n) {
		return false, "", fmt.Errorf("%w: bad reply length %q", ErrProtocol, header)
	}
	if n > limit {
		return false, "", fmt.Errorf("%w: reply of %d bytes exceeds the limit of %d", ErrProtocol, n, limit)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(br, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return false, "", fmt.Errorf("reading reply body: %w", err)
	}
	return word == okWord, string(buf), nil
}
