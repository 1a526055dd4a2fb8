package hec

import (
	"bytes"
	"compress/gzip"
	"io"
	"strconv"
	"strings"
)

// decodeBody undoes Content-Encoding. gzip output is read through a limit so that a small
// compressed body cannot expand past max bytes: memory stays bounded by the same limit that
// applies to plain bodies.
func decodeBody(body []byte, encoding string, max int64) ([]byte, *Error) {
	enc := strings.ToLower(strings.TrimSpace(encoding))
	switch enc {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
	default:
		return nil, httpError(415, "Unsupported Content-Encoding: "+encoding)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, NewError(CodeInvalidDataFormat)
	}
	defer zr.Close()
	limit := max
	if limit <= 0 {
		limit = 1<<63 - 1
	}
	var out bytes.Buffer
	// Start with a modest guess; growth is bounded by limit anyway.
	guess := int64(len(body)) * 4
	if guess > limit {
		guess = limit
	}
	out.Grow(int(min(guess, 64<<20)))
	n, err := io.Copy(&out, io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, NewError(CodeInvalidDataFormat)
	}
	if n > limit {
		return nil, tooLarge(n, max)
	}
	return out.Bytes(), nil
}

// tooLarge is the 413 answer for a body over max_content_length. The text follows splunkd's
// wording for the same refusal.
func tooLarge(size, max int64) *Error {
	text := "Content-Length of " + strconv.FormatInt(size, 10) + " too large (maximum is " + strconv.FormatInt(max, 10) + ")"
	return httpError(413, text)
}
